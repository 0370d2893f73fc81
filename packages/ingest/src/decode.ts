import { isUtf8 } from "node:buffer";
import {
  checkJsonShape,
  DEFAULT_EVENT_LIMITS,
  parseHandoffEvent,
  type EventLimits,
  type HandoffEvent,
  type RejectionReason,
  type StateCatalogue,
} from "@handoff-sync/schema";
import { normalise, type InputSettings } from "./normalise.js";

export type { RejectionReason } from "@handoff-sync/schema";

export type Decoded =
  | { readonly ok: true; readonly event: HandoffEvent }
  | Rejected
  /** A valid record that signals no handoff (a chat turn without one): neither applied nor rejected. */
  | { readonly ok: false; readonly skipped: true; readonly why: string };

export interface DecodeOptions {
  readonly maxBytes: number;
  readonly catalogue: StateCatalogue;
  /** The topic's format; the native handoff event when omitted. */
  readonly input?: InputSettings;
  /** The Kafka record's timestamp (ms), for formats that carry no `occurred_at`. */
  readonly timestamp?: number;
  /** Shape and clock limits; the defaults of `source.limits` when omitted. */
  readonly limits?: EventLimits;
  /** The consumer's clock (ms), against which `occurred_at` may be at most `max_clock_skew_ms` ahead. */
  readonly now?: number;
}

function formatSkew(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 48
    ? `${Math.round(hours / 24)} days`
    : hours >= 1
      ? `${hours.toFixed(1)} hours`
      : `${Math.round(ms / 1000)} s`;
}

export type Rejected = {
  readonly ok: false;
  readonly skipped?: false;
  readonly reason: RejectionReason;
  readonly error: string;
};

/** The first half of decoding: bytes to a bounded JSON value, or why not. Pure. */
export function decodeJsonValue(
  value: Buffer | null,
  options: { readonly maxBytes: number; readonly limits?: EventLimits },
): { readonly ok: true; readonly raw: unknown } | Rejected {
  if (value === null || value.length === 0)
    return { ok: false, reason: "empty", error: "record has no value" };
  if (value.length > options.maxBytes) {
    return {
      ok: false,
      reason: "oversize",
      error: `record is ${value.length} bytes; the limit is ${options.maxBytes}`,
    };
  }
  // toString would quietly turn invalid bytes into U+FFFD, and a key with them would reach a CRM.
  if (!isUtf8(value)) return { ok: false, reason: "invalid_encoding", error: "record is not valid UTF-8" };
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString("utf8"));
  } catch (error) {
    return {
      ok: false,
      reason: "invalid_json",
      error: `not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  // Before anything recursive (normalising hashes the payload, the store serialises it).
  const shape = checkJsonShape(raw, options.limits ?? DEFAULT_EVENT_LIMITS);
  if (!shape.ok) return shape;
  return { ok: true, raw };
}

/** The second half: a raw handoff event checked against the schema, the catalogue and the clock. Pure. */
export function validateHandoffEvent(
  raw: unknown,
  options: { readonly catalogue: StateCatalogue; readonly limits?: EventLimits; readonly now?: number },
): { readonly ok: true; readonly event: HandoffEvent } | Rejected {
  const limits = options.limits ?? DEFAULT_EVENT_LIMITS;
  const parsed = parseHandoffEvent(raw);
  if (!parsed.ok) return { ok: false, reason: "schema_violation", error: parsed.message };
  if (options.catalogue.stageOf(parsed.event.state) === undefined) {
    return {
      ok: false,
      reason: "unknown_state",
      error: `state: "${parsed.event.state}" is not in the state catalogue (${options.catalogue.states().join(", ")}); declare it under states: in the destinations file`,
    };
  }
  const occurredAt = Date.parse(parsed.event.occurred_at);
  const now = options.now ?? Date.now();
  if (occurredAt - now > limits.max_clock_skew_ms) {
    return {
      ok: false,
      reason: "clock_skew",
      error: `occurred_at: ${parsed.event.occurred_at} is ${formatSkew(occurredAt - now)} ahead of the consumer's clock; the limit is ${limits.max_clock_skew_ms} ms (source.limits.max_clock_skew_ms)`,
    };
  }
  return { ok: true, event: parsed.event };
}

/** Turns a record's bytes into a valid event, or says why it cannot be one. Pure. */
export function decodeHandoffEvent(value: Buffer | null, options: DecodeOptions): Decoded {
  const json = decodeJsonValue(value, options);
  if (!json.ok) return json;
  const normalised = normalise(
    json.raw,
    { timestamp: options.timestamp ?? Number.NaN },
    options.input ?? { format: "handoff_event" },
  );
  if (normalised.kind === "skip") return { ok: false, skipped: true, why: normalised.why };
  if (normalised.kind === "reject") return { ok: false, reason: "schema_violation", error: normalised.error };
  return validateHandoffEvent(normalised.event, options);
}
