import { z } from "zod";
import { compareCodeUnits, compareInstants } from "./instant.js";
import { LifecycleStageSchema } from "./states.js";

const datetime = z.iso.datetime({ offset: true });
const record = z.record(z.string(), z.unknown());

/** Surprising sequences are accepted and flagged, never rejected: the CRM must still reach the latest state. */
export const AnomalySchema = z.enum(["first_not_initiated", "illegal_transition", "reopened"]);
export type Anomaly = z.infer<typeof AnomalySchema>;

export const HistoryEntrySchema = z.object({
  event_id: z.string().min(1),
  /** The conversation that sent this event; a handoff keyed by `shared_id` may span several. */
  id: z.string().min(1),
  shared_id: z.string().min(1).optional(),
  state: z.string().min(1),
  /** Stage at the time of applying, so a later catalogue change does not rewrite history. */
  stage: LifecycleStageSchema,
  occurred_at: datetime,
  received_at: datetime,
  data: record,
  channel: z.string().optional(),
  destination: z.string().optional(),
  reason: z.string().optional(),
  anomaly: AnomalySchema.optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

/** History order: by `occurred_at` as an instant, ties broken by `event_id`. */
export function compareHistoryOrder(
  a: Pick<HistoryEntry, "occurred_at" | "event_id">,
  b: Pick<HistoryEntry, "occurred_at" | "event_id">,
): number {
  return compareInstants(a.occurred_at, b.occurred_at) || compareCodeUnits(a.event_id, b.event_id);
}

/** A place in history order; stamps where a value in the truncated base came from. */
export const HistoryPositionSchema = z.object({ occurred_at: datetime, event_id: z.string().min(1) });
export type HistoryPosition = z.infer<typeof HistoryPositionSchema>;

const StampedLabelSchema = HistoryPositionSchema.extend({ value: z.string() });

/**
 * What remains of entries dropped to bound the history. A late event may still belong between dropped
 * ones, so every base value keeps the position it came from and is replaced only by a later one: the
 * merge, the labels and the oldest kept entry's transition check come out exactly as if nothing had
 * been dropped, whatever the arrival order.
 */
export const TruncationSchema = z.object({
  /** The newest dropped entry; events at or before it fold into the base instead of the history. */
  through_occurred_at: datetime,
  through_event_id: z.string().min(1),
  state: z.string().min(1),
  stage: LifecycleStageSchema,
  /** For each `base_data` field, the entry its value came from. */
  data_positions: z.record(z.string(), HistoryPositionSchema),
  channel: StampedLabelSchema.optional(),
  destination: StampedLabelSchema.optional(),
  reason: StampedLabelSchema.optional(),
});
export type Truncation = z.infer<typeof TruncationSchema>;

/**
 * The current view of one handoff, as stored and as delivered. Every field besides the identity fields
 * (`key`, `id`, `shared_id`, `created_at`) and the bookkeeping (`version`, `updated_at`) is derived from
 * the history, so any writer can recompute it.
 */
const SnapshotObjectSchema = z
  .object({
    schema_version: z.literal(1),
    key: z.string().min(1),
    /** The conversation id of the first event seen. */
    id: z.string().min(1),
    /** The first `shared_id` seen; never replaced, so what the CRM was sent stays true. */
    shared_id: z.string().min(1).optional(),
    state: z.string().min(1),
    stage: LifecycleStageSchema,
    /** Bumped by every change, stale events included; deliveries and the ledger compare it. */
    version: z.int().min(1),
    /** Of the latest event in history order. */
    occurred_at: datetime,
    /** `base_data` then every history entry's `data`, shallow-merged in history order. */
    data: record,
    /** Merged `data` of entries dropped from the bounded history. */
    base_data: record.default({}),
    truncated: TruncationSchema.optional(),
    channel: z.string().optional(),
    destination: z.string().optional(),
    reason: z.string().optional(),
    history: z.array(HistoryEntrySchema).min(1),
    created_at: datetime,
    updated_at: datetime,
  })
  .check((ctx) => {
    const { history } = ctx.value;
    for (let i = 1; i < history.length; i++) {
      const prev = history[i - 1];
      const next = history[i];
      if (prev !== undefined && next !== undefined && compareHistoryOrder(prev, next) >= 0) {
        ctx.issues.push({
          code: "custom",
          input: ctx.value,
          path: ["history", i],
          message: "History must be sorted by (occurred_at, event_id) without duplicates",
        });
      }
    }
  });
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const TRUNCATION_LABELS = ["channel", "destination", "reason"] as const;

/**
 * The first v1 writer kept `truncated` without `data_positions` and with plain-string labels. Such a
 * snapshot is lifted on read instead of refused (docs/upgrades.md): every base value and label is
 * stamped with the newest dropped entry, the latest position it can have come from. The only cost is
 * that a late event older than that entry no longer replaces a base value it might have.
 */
export function liftEarlyTruncation(raw: unknown): unknown {
  if (!isRecord(raw) || !isRecord(raw["truncated"])) return raw;
  const truncated = raw["truncated"];
  const occurredAt = truncated["through_occurred_at"];
  const eventId = truncated["through_event_id"];
  if (typeof occurredAt !== "string" || typeof eventId !== "string") return raw;
  const stamp = { occurred_at: occurredAt, event_id: eventId };
  const lifted: Record<string, unknown> = { ...truncated };
  if (truncated["data_positions"] === undefined) {
    const base = isRecord(raw["base_data"]) ? raw["base_data"] : {};
    lifted["data_positions"] = Object.fromEntries(Object.keys(base).map((field) => [field, stamp]));
  }
  for (const name of TRUNCATION_LABELS) {
    const value = truncated[name];
    if (typeof value === "string") lifted[name] = { ...stamp, value };
  }
  return { ...raw, truncated: lifted };
}

/**
 * Reads every v1 snapshot: the current shape, one without the optional fields added since (they
 * default or stay absent), and the first writer's truncation (lifted above).
 */
export const HandoffSnapshotSchema = z.preprocess(liftEarlyTruncation, SnapshotObjectSchema);
export type HandoffSnapshot = z.infer<typeof HandoffSnapshotSchema>;
export type HandoffSnapshotInput = z.input<typeof SnapshotObjectSchema>;
