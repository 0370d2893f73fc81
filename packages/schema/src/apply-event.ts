import { UnknownStateError } from "./errors.js";
import { handoffKeyOf, type HandoffEvent } from "./events.js";
import {
  compareHistoryOrder,
  type Anomaly,
  type HandoffSnapshot,
  type HistoryEntry,
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
  /** `applied`: the event is now the latest; `stale`: it joined the history behind a later one; `duplicate`: nothing changed. */
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

/** Later wins: the first argument is the newer source. */
function pickLabels(newer: Labels | undefined, older: Labels | undefined): Labels {
  const labels: Labels = {};
  for (const name of LABELS) {
    const value = newer?.[name] ?? older?.[name];
    if (value !== undefined) labels[name] = value;
  }
  return labels;
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
    ...pickLabels(event, undefined),
  };
}

function withAnomalies(history: readonly HistoryEntry[], before: LifecycleStage | undefined): HistoryEntry[] {
  let previous = before;
  return history.map((entry) => {
    const { anomaly: _old, ...rest } = entry;
    const anomaly = anomalyOf(previous, entry.stage);
    previous = entry.stage;
    return anomaly === undefined ? rest : { ...rest, anomaly };
  });
}

function insertSorted(history: readonly HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  const index = history.findIndex((existing) => compareHistoryOrder(entry, existing) < 0);
  return index === -1 ? [...history, entry] : [...history.slice(0, index), entry, ...history.slice(index)];
}

function sameRecord(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && Object.is(a[k], b[k]));
}

interface Derived {
  readonly history: HistoryEntry[];
  readonly baseData: Record<string, unknown>;
  readonly truncated: Truncation | undefined;
}

function buildSnapshot(
  current: HandoffSnapshot | undefined,
  event: HandoffEvent,
  ctx: ApplyContext,
  derived: Derived,
): HandoffSnapshot {
  const { history, baseData, truncated } = derived;
  const latest = history.at(-1);
  if (latest === undefined) throw new RangeError("a snapshot needs at least one history entry");

  let labels: Labels = pickLabels(undefined, truncated);
  let data: Record<string, unknown> = { ...baseData };
  for (const entry of history) {
    labels = pickLabels(entry, labels);
    // Shallow on purpose: a nested object is one field owned by the event that last sent it, so a
    // producer can replace it whole; `null` is kept as a value, and keys are never removed.
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
    base_data: baseData,
    ...(truncated !== undefined && { truncated }),
    ...labels,
    history,
    created_at: current?.created_at ?? ctx.receivedAt,
    updated_at: ctx.receivedAt,
  };
}

/**
 * An event older than every dropped entry cannot join the history (it would be dropped at once), and
 * its data must sit under the dropped entries' data, not on top: it folds into the base from below.
 * Re-folding an event that was already dropped changes nothing, which is how such duplicates are
 * recognised without remembering every dropped id.
 */
function foldBelowTruncation(
  current: HandoffSnapshot,
  truncated: Truncation,
  entry: HistoryEntry,
  event: HandoffEvent,
  ctx: ApplyContext,
): ApplyResult {
  const baseData = { ...entry.data, ...current.base_data };
  const folded: Truncation = { ...truncated, ...pickLabels(truncated, entry) };
  if (sameRecord(baseData, current.base_data) && LABELS.every((name) => folded[name] === truncated[name])) {
    return { outcome: "duplicate", snapshot: current };
  }
  const derived = { history: current.history, baseData, truncated: folded };
  return { outcome: "stale", snapshot: buildSnapshot(current, event, ctx, derived) };
}

/**
 * Applies one validated event to a handoff's snapshot, purely.
 *
 * The history is kept in `occurred_at` order (ties by `event_id`), and the current state is its last
 * entry's, so arrival order never decides the outcome. Anomalies are recomputed over the whole ordered
 * history on every apply, since a late event can repair or create one.
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
  const previousTruncation = current?.truncated;
  if (current !== undefined && previousTruncation !== undefined) {
    const watermark = {
      occurred_at: previousTruncation.through_occurred_at,
      event_id: previousTruncation.through_event_id,
    };
    if (compareHistoryOrder(entry, watermark) <= 0) {
      return foldBelowTruncation(current, previousTruncation, entry, event, ctx);
    }
  }

  let history = insertSorted(current?.history ?? [], entry);
  let baseData: Record<string, unknown> = current?.base_data ?? {};
  let truncated = previousTruncation;
  while (history.length > maxHistory) {
    const [dropped, ...kept] = history;
    if (dropped === undefined) break;
    history = kept;
    baseData = { ...baseData, ...dropped.data };
    truncated = {
      through_occurred_at: dropped.occurred_at,
      through_event_id: dropped.event_id,
      state: dropped.state,
      stage: dropped.stage,
      ...pickLabels(dropped, truncated),
    };
  }
  history = withAnomalies(history, truncated?.stage);

  const snapshot = buildSnapshot(current, event, ctx, { history, baseData, truncated });
  const last = history.at(-1);
  const outcome = last?.event_id === event.event_id ? "applied" : "stale";
  const anomaly = history.find((e) => e.event_id === event.event_id)?.anomaly;
  return anomaly === undefined ? { outcome, snapshot } : { outcome, snapshot, anomaly };
}
