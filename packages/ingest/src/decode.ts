import { parseHandoffEvent, type HandoffEvent, type StateCatalogue } from "@handoff-sync/schema";
import { normalise, type InputSettings } from "./normalise.js";

export type RejectionReason = "empty" | "oversize" | "invalid_json" | "schema_violation" | "unknown_state";

export type Decoded =
  | { readonly ok: true; readonly event: HandoffEvent }
  | { readonly ok: false; readonly skipped?: false; readonly reason: RejectionReason; readonly error: string }
  /** A valid record that signals no handoff (a chat turn without one): neither applied nor rejected. */
  | { readonly ok: false; readonly skipped: true; readonly why: string };

export interface DecodeOptions {
  readonly maxBytes: number;
  readonly catalogue: StateCatalogue;
  /** The topic's format; the native handoff event when omitted. */
  readonly input?: InputSettings;
  /** The Kafka record's timestamp (ms), for formats that carry no `occurred_at`. */
  readonly timestamp?: number;
}

/** Turns a record's bytes into a valid event, or says why it cannot be one. Pure. */
export function decodeHandoffEvent(value: Buffer | null, options: DecodeOptions): Decoded {
  if (value === null || value.length === 0) return { ok: false, reason: "empty", error: "record has no value" };
  if (value.length > options.maxBytes) {
    return { ok: false, reason: "oversize", error: `record is ${value.length} bytes; the limit is ${options.maxBytes}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString("utf8"));
  } catch (error) {
    return { ok: false, reason: "invalid_json", error: `not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const normalised = normalise(raw, { timestamp: options.timestamp ?? Number.NaN }, options.input ?? { format: "handoff_event" });
  if (normalised.kind === "skip") return { ok: false, skipped: true, why: normalised.why };
  if (normalised.kind === "reject") return { ok: false, reason: "schema_violation", error: normalised.error };
  const parsed = parseHandoffEvent(normalised.event);
  if (!parsed.ok) return { ok: false, reason: "schema_violation", error: parsed.message };
  if (options.catalogue.stageOf(parsed.event.state) === undefined) {
    return {
      ok: false,
      reason: "unknown_state",
      error: `state: "${parsed.event.state}" is not in the state catalogue (${options.catalogue.states().join(", ")}); declare it under states: in the destinations file`,
    };
  }
  return { ok: true, event: parsed.event };
}
