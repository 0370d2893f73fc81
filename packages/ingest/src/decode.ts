import { parseHandoffEvent, type HandoffEvent, type StateCatalogue } from "@handoff-sync/schema";

export type RejectionReason = "empty" | "oversize" | "invalid_json" | "schema_violation" | "unknown_state";

export type Decoded =
  | { readonly ok: true; readonly event: HandoffEvent }
  | { readonly ok: false; readonly reason: RejectionReason; readonly error: string };

/** Turns a record's bytes into a valid event, or says why it cannot be one. Pure. */
export function decodeHandoffEvent(value: Buffer | null, options: { maxBytes: number; catalogue: StateCatalogue }): Decoded {
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
  const parsed = parseHandoffEvent(raw);
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
