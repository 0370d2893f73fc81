import { z } from "zod";

/**
 * Why a record went to the rejected-events topic. Every reason names something about the record
 * itself: the same bytes are rejected the same way on every try, so rejecting cannot lose an event
 * that a retry would have saved (docs/guarantees.md).
 */
export const REJECTION_REASONS = [
  "empty",
  "oversize",
  "invalid_encoding",
  "invalid_json",
  "too_deep",
  "too_complex",
  "too_long",
  "schema_violation",
  "unknown_state",
  "clock_skew",
  "snapshot_too_large",
  "apply_failed",
] as const;
export const RejectionReasonSchema = z.enum(REJECTION_REASONS);
export type RejectionReason = z.infer<typeof RejectionReasonSchema>;

const limit = (min: number, max: number, fallback: number, description: string) =>
  z.number().int().min(min).max(max).default(fallback).describe(description);

/**
 * Bounds on one record's shape, checked before anything walks it recursively, so a hostile record is
 * rejected for what it is instead of exhausting the stack or the heap of the consumer (and of every
 * consumer the partition moves to).
 */
export const EventLimitsSchema = z.strictObject({
  max_depth: limit(
    1,
    256,
    32,
    "Deepest nesting of objects and arrays inside `data` (`data: {a: 1}` is depth 1). Deeper records are rejected as too_deep.",
  ),
  max_keys: limit(
    1,
    1_000_000,
    10_000,
    "Object keys and array items in the whole record together. More are rejected as too_complex.",
  ),
  max_string_length: limit(
    1,
    100 * 1_048_576,
    65_536,
    "Longest string (value or key) in the record, in UTF-16 code units. Longer ones are rejected as too_long.",
  ),
  max_snapshot_bytes: limit(
    4_096,
    64 * 1_048_576,
    2_097_152,
    "Largest serialised handoff snapshot (merged data and history). An event that would make it larger is rejected as snapshot_too_large; the handoff keeps its earlier state.",
  ),
  max_clock_skew_ms: limit(
    0,
    7 * 24 * 3_600_000,
    300_000,
    "How far in the future, by the consumer's clock, an occurred_at may be. Later ones are rejected as clock_skew.",
  ),
});
export type EventLimits = z.infer<typeof EventLimitsSchema>;

export const DEFAULT_EVENT_LIMITS: EventLimits = EventLimitsSchema.parse({});

export type ShapeCheck =
  { readonly ok: true } | { readonly ok: false; readonly reason: RejectionReason; readonly error: string };

const SHOWN_PATH_PARTS = 6;

function describePath(path: readonly (string | number)[]): string {
  const shown = path
    .slice(0, SHOWN_PATH_PARTS)
    .map((part, index) => (typeof part === "number" ? `[${part}]` : index === 0 ? part : `.${part}`));
  const text = shown.join("");
  return path.length > SHOWN_PATH_PARTS
    ? `${text}… (${path.length} levels)`
    : text === ""
      ? "(the record)"
      : text;
}

/**
 * One value still to check. Its path is the chain of parents, built into an array only for an error
 * message: the walk runs on every record, so it allocates one small frame per member and nothing else.
 */
interface Frame {
  readonly value: unknown;
  readonly depth: number;
  readonly parent: Frame | undefined;
  readonly part: string | number | undefined;
}

function pathOf(frame: Frame, extra?: string | number): (string | number)[] {
  const path: (string | number)[] = extra === undefined ? [] : [extra];
  for (let at: Frame | undefined = frame; at?.part !== undefined; at = at.parent) path.push(at.part);
  return path.reverse();
}

/**
 * Walks a JSON-decoded value without recursion and stops at the first limit it crosses, so the cost
 * is bounded by the limits, not by the input. `depthOffset` is the depth of `value` itself: the
 * record's envelope is depth -1 so that `data`'s own members are depth 1.
 */
export function checkJsonShape(
  value: unknown,
  limits: Pick<EventLimits, "max_depth" | "max_keys" | "max_string_length">,
  depthOffset = -1,
): ShapeCheck {
  const stack: Frame[] = [{ value, depth: depthOffset, parent: undefined, part: undefined }];
  let members = 0;
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { value: node, depth } = frame;
    if (typeof node === "string") {
      if (node.length > limits.max_string_length) {
        return {
          ok: false,
          reason: "too_long",
          error: `${describePath(pathOf(frame))}: string of ${node.length} characters; the limit is ${limits.max_string_length} (source.limits.max_string_length)`,
        };
      }
      continue;
    }
    if (typeof node === "number") {
      // JSON.parse turns 1e400 into Infinity, which JSON.stringify would later write as null.
      if (!Number.isFinite(node))
        return {
          ok: false,
          reason: "invalid_json",
          error: `${describePath(pathOf(frame))}: number is beyond the range of a double`,
        };
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    if (depth + 1 > limits.max_depth) {
      return {
        ok: false,
        reason: "too_deep",
        error: `${describePath(pathOf(frame))}: nests deeper than ${limits.max_depth} levels (source.limits.max_depth)`,
      };
    }
    if (Array.isArray(node)) {
      members += node.length;
      if (members > limits.max_keys) return tooComplex(limits, frame);
      for (let index = 0; index < node.length; index++)
        stack.push({ value: node[index] as unknown, depth: depth + 1, parent: frame, part: index });
      continue;
    }
    const record = node as Record<string, unknown>;
    const keys = Object.keys(record);
    members += keys.length;
    if (members > limits.max_keys) return tooComplex(limits, frame);
    for (const key of keys) {
      if (key.length > limits.max_string_length) {
        return {
          ok: false,
          reason: "too_long",
          error: `${describePath(pathOf(frame))}: a key of ${key.length} characters; the limit is ${limits.max_string_length} (source.limits.max_string_length)`,
        };
      }
      // JSON.parse keeps "__proto__" as an own key, but object spreads, zod records and plain
      // assignment drop it or set a prototype instead: refused rather than lost or dangerous.
      if (key === "__proto__") {
        return {
          ok: false,
          reason: "schema_violation",
          error: `${describePath(pathOf(frame, key))}: the key __proto__ is not allowed`,
        };
      }
      stack.push({ value: record[key], depth: depth + 1, parent: frame, part: key });
    }
  }
  return { ok: true };
}

function tooComplex(
  limits: Pick<EventLimits, "max_keys">,
  frame: Frame,
): { readonly ok: false; readonly reason: RejectionReason; readonly error: string } {
  return {
    ok: false,
    reason: "too_complex",
    error: `more than ${limits.max_keys} object keys and array items in the record (source.limits.max_keys), the last at ${describePath(pathOf(frame))}`,
  };
}
