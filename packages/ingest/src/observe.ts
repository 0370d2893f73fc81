import type { Anomaly, HandoffSnapshot, LifecycleStage } from "@handoff-sync/schema";

/** What one applied event says about the handoff lifecycle, for the metrics by state. */
export interface LifecycleObservation {
  /** The state and stage the event moved the handoff into (stale events are history, not a move). */
  readonly transition?: { readonly state: string; readonly stage: LifecycleStage };
  /** The seed's diagram broken: a first event that is not initiated, a completed handoff reopened. */
  readonly anomaly?: Anomaly;
  /** From the handoff_initiated this completion ends to the completion, by `occurred_at`. */
  readonly initiatedToCompletedSeconds?: number;
}

/**
 * Pure: the observation of one event the store applied. A duplicate says nothing (it was counted
 * the first time); a stale event may carry an anomaly but moves nothing.
 */
export function observeLifecycle(applied: {
  readonly outcome: "applied" | "stale" | "duplicate";
  readonly snapshot: HandoffSnapshot;
  readonly anomaly?: Anomaly | undefined;
  readonly eventId: string;
}): LifecycleObservation {
  if (applied.outcome === "duplicate") return {};
  const anomaly = applied.anomaly !== undefined ? { anomaly: applied.anomaly } : {};
  if (applied.outcome === "stale") return anomaly;
  const { snapshot } = applied;
  const transition = { state: snapshot.state, stage: snapshot.stage };
  if (snapshot.stage !== "completed") return { transition, ...anomaly };
  const at = snapshot.history.findIndex((entry) => entry.event_id === applied.eventId);
  // The initiation this completion ends: the latest initiated entry before it in history order.
  const initiated = snapshot.history
    .slice(0, at < 0 ? snapshot.history.length : at)
    .findLast((entry) => entry.stage === "initiated");
  if (initiated === undefined) return { transition, ...anomaly };
  const seconds = (Date.parse(snapshot.occurred_at) - Date.parse(initiated.occurred_at)) / 1000;
  return Number.isFinite(seconds) && seconds >= 0
    ? { transition, ...anomaly, initiatedToCompletedSeconds: seconds }
    : { transition, ...anomaly };
}
