import { UnknownStateError } from "./errors.js";
import { handoffKeyOf, type HandoffEvent } from "./events.js";
import {
  compareHistoryOrder,
  type Anomaly,
  type HandoffSnapshot,
  type HistoryEntry,
  type HistoryPosition,
  type Truncation,
} from "./snapshot.js";
import { isLegalTransition, type LifecycleStage, type StateCatalogue } from "./states.js";

export const DEFAULT_MAX_HISTORY = 200;

export interface ApplyContext {
  readonly catalogue: StateCatalogue;
  /** When the consumer received the event; also the snapshot's `updated_at`. */
  readonly receivedAt: string;
  /** The resolved handoff key (see `resolveHandoffKey`); defaults to the snapshot's, else `shared_id ?? id`. */
  readonly key?: string;
  readonly maxHistory?: number;
}

export type ApplyOutcome = "applied" | "stale" | "duplicate";

export interface ApplyResult {
  /**
   * `applied`: the event is now the latest. `stale`: it joined the history behind a later event.
   * `duplicate`: the snapshot did not change (a redelivery, or an event older than the bounded history
   * whose every field was already superseded); `snapshot` is then the one passed in.
   */
  readonly outcome: ApplyOutcome;
  readonly snapshot: HandoffSnapshot;
  /** The anomaly recorded on the event's own history entry, if any. */
  readonly anomaly?: Anomaly;
}

type Labels = Pick<HistoryEntry, "channel" | "destination" | "reason">;
const LABELS = ["channel", "destination", "reason"] as const;

function anomalyOf(previous: LifecycleStage | undefined, next: LifecycleStage): Anomaly | undefined {
  if (isLegalTransition(previous, next)) return undefined;
  if (previous === undefined) return "first_not_initiated";
  if (previous === "completed" && next === "initiated") return "reopened";
  return "illegal_transition";
}

function labelsOf(source: Readonly<Labels>): Labels {
  const labels: Labels = {};
  for (const name of LABELS) {
    const value = source[name];
    if (value !== undefined) labels[name] = value;
  }
  return labels;
}

// Plain assignment of a "__proto__" field from producer data would set the prototype instead.
function setOwn<T>(target: Record<string, T>, field: string, value: T): void {
  Object.defineProperty(target, field, { value, enumerable: true, writable: true, configurable: true });
}

function toEntry(event: HandoffEvent, stage: LifecycleStage, receivedAt: string): HistoryEntry {
  return {
    event_id: event.event_id,
    id: event.id,
    ...(event.shared_id !== undefined && { shared_id: event.shared_id }),
    state: event.state,
    stage,
    occurred_at: event.occurred_at,
    received_at: receivedAt,
    data: event.data,
    ...labelsOf(event),
  };
}

function withAnomalies(history: readonly HistoryEntry[], before: LifecycleStage | undefined): HistoryEntry[] {
  let previous = before;
  return history.map((entry) => {
    const { anomaly: _stale, ...rest } = entry;
    const anomaly = anomalyOf(previous, entry.stage);
    previous = entry.stage;
    return anomaly === undefined ? rest : { ...rest, anomaly };
  });
}

function insertSorted(history: readonly HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  const index = history.findIndex((existing) => compareHistoryOrder(entry, existing) < 0);
  return index === -1 ? [...history, entry] : [...history.slice(0, index), entry, ...history.slice(index)];
}

interface Base {
  readonly data: Record<string, unknown>;
  readonly truncated: Truncation | undefined;
}

/**
 * Folds an entry into the truncated base, field by field: a value is replaced only by one from a later
 * position, so the base is the same whatever order entries are folded in, and folding an entry twice
 * changes nothing.
 */
function foldIntoBase(base: Base, entry: HistoryEntry): Base & { changed: boolean } {
  const position: HistoryPosition = { occurred_at: entry.occurred_at, event_id: entry.event_id };
  const supersedes = (stamp: HistoryPosition | undefined) =>
    stamp === undefined || compareHistoryOrder(position, stamp) > 0;
  const previous = base.truncated;
  let changed = false;

  const data = { ...base.data };
  const positions = { ...previous?.data_positions };
  for (const [field, value] of Object.entries(entry.data)) {
    if (supersedes(positions[field])) {
      setOwn(data, field, value);
      setOwn(positions, field, position);
      changed = true;
    }
  }

  const through =
    previous === undefined ||
    supersedes({ occurred_at: previous.through_occurred_at, event_id: previous.through_event_id })
      ? {
          through_occurred_at: entry.occurred_at,
          through_event_id: entry.event_id,
          state: entry.state,
          stage: entry.stage,
        }
      : {
          through_occurred_at: previous.through_occurred_at,
          through_event_id: previous.through_event_id,
          state: previous.state,
          stage: previous.stage,
        };
  if (through.through_event_id !== previous?.through_event_id) changed = true;

  const truncated: Truncation = { ...through, data_positions: positions };
  for (const name of LABELS) {
    const value = entry[name];
    const kept = previous?.[name];
    if (value !== undefined && supersedes(kept)) {
      truncated[name] = { ...position, value };
      changed = true;
    } else if (kept !== undefined) {
      truncated[name] = kept;
    }
  }
  return { data, truncated, changed };
}

function buildSnapshot(
  current: HandoffSnapshot | undefined,
  event: HandoffEvent,
  ctx: ApplyContext,
  history: HistoryEntry[],
  base: Base,
): HandoffSnapshot {
  const latest = history.at(-1);
  if (latest === undefined) throw new RangeError("a snapshot needs at least one history entry");

  const labels: Labels = {};
  let data: Record<string, unknown> = { ...base.data };
  for (const name of LABELS) {
    const value = base.truncated?.[name]?.value;
    if (value !== undefined) labels[name] = value;
  }
  for (const entry of history) {
    Object.assign(labels, labelsOf(entry));
    // Shallow on purpose: a nested object is one field owned by the event that last sent it, so a
    // producer can replace it whole; `null` is kept as a value, and fields are never removed.
    data = { ...data, ...entry.data };
  }
  const sharedId = current?.shared_id ?? event.shared_id;

  return {
    schema_version: 1,
    key: current?.key ?? ctx.key ?? handoffKeyOf(event),
    id: current?.id ?? event.id,
    ...(sharedId !== undefined && { shared_id: sharedId }),
    state: latest.state,
    stage: latest.stage,
    version: (current?.version ?? 0) + 1,
    occurred_at: latest.occurred_at,
    data,
    base_data: base.data,
    ...(base.truncated !== undefined && { truncated: base.truncated }),
    ...labels,
    history,
    created_at: current?.created_at ?? ctx.receivedAt,
    updated_at: ctx.receivedAt,
  };
}

/**
 * Applies one validated event to a handoff's snapshot, purely.
 *
 * The history is kept in `occurred_at` order (ties by `event_id`) and the current state is its last
 * entry's, so arrival order never decides the outcome. Anomalies are recomputed over the whole ordered
 * history on every apply, since a late event can repair or create one. Beyond `maxHistory` the oldest
 * entries fold into `base_data`/`truncated`.
 *
 * @throws UnknownStateError when the event's state is not in the catalogue.
 */
export function applyEvent(
  current: HandoffSnapshot | undefined,
  event: HandoffEvent,
  ctx: ApplyContext,
): ApplyResult {
  // Checked before the catalogue, so a redelivered event stays a no-op even after its state was removed.
  if (current?.history.some((entry) => entry.event_id === event.event_id)) {
    return { outcome: "duplicate", snapshot: current };
  }
  const stage = ctx.catalogue.stageOf(event.state);
  if (stage === undefined) throw new UnknownStateError(event.state);
  const maxHistory = ctx.maxHistory ?? DEFAULT_MAX_HISTORY;
  if (!Number.isInteger(maxHistory) || maxHistory < 1) {
    throw new RangeError(`maxHistory must be a positive integer, got ${maxHistory}`);
  }

  const entry = toEntry(event, stage, ctx.receivedAt);
  let base: Base = { data: current?.base_data ?? {}, truncated: current?.truncated };
  const watermark = base.truncated && {
    occurred_at: base.truncated.through_occurred_at,
    event_id: base.truncated.through_event_id,
  };

  // Older than an entry already dropped: it would be dropped at once, so it goes straight to the base.
  // Redeliveries of dropped events land here too and change nothing.
  if (current !== undefined && watermark !== undefined && compareHistoryOrder(entry, watermark) <= 0) {
    const folded = foldIntoBase(base, entry);
    if (!folded.changed) return { outcome: "duplicate", snapshot: current };
    return { outcome: "stale", snapshot: buildSnapshot(current, event, ctx, current.history, folded) };
  }

  let history = insertSorted(current?.history ?? [], entry);
  while (history.length > maxHistory) {
    const [dropped, ...kept] = history;
    if (dropped === undefined) break;
    history = kept;
    base = foldIntoBase(base, dropped);
  }
  history = withAnomalies(history, base.truncated?.stage);

  const snapshot = buildSnapshot(current, event, ctx, history, {
    data: base.data,
    truncated: base.truncated,
  });
  const outcome = history.at(-1)?.event_id === event.event_id ? "applied" : "stale";
  const anomaly = history.find((e) => e.event_id === event.event_id)?.anomaly;
  return anomaly === undefined ? { outcome, snapshot } : { outcome, snapshot, anomaly };
}
