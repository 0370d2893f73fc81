import {
  DEFAULT_EVENT_LIMITS,
  UnprocessableEventError,
  type DeliveryJob,
  type EventLimits,
  type HandoffEvent,
  type LifecycleStage,
  type StateCatalogue,
} from "@handoff-sync/schema";
import type { HandoffStore } from "@handoff-sync/store";
import {
  NOOP_TRACER,
  SpanKind,
  SpanStatusCode,
  startSpanFrom,
  type IngestMetrics,
  type Logger,
  type Tracer,
} from "@handoff-sync/telemetry";
import { decodeHandoffEvent, type RejectionReason } from "./decode.js";
import { describeFailure, failureOrigin, sameFailure } from "./failure.js";
import { observeLifecycle } from "./observe.js";
import type { InputSettings } from "./normalise.js";

export interface IngestRecord {
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string | Buffer>>;
  readonly timestamp: number;
}

export interface IngestSettings<R extends IngestRecord = IngestRecord> {
  readonly store: HandoffStore;
  readonly catalogue: StateCatalogue;
  readonly maxBytes: number;
  /** The topic's format (`source.format` and its settings); the native handoff event when omitted. */
  readonly input?: InputSettings;
  readonly route: (event: {
    state: string;
    stage: LifecycleStage;
    channel?: string;
    destination?: string;
    reason?: string;
  }) => readonly string[];
  readonly enqueue: (destination: string, job: DeliveryJob) => Promise<void>;
  /**
   * Awaited after a record's writes (apply and enqueues), before its offset may be resolved: e.g.
   * Redis `WAIT` for replicas. Its errors are the infrastructure's: the record is consumed again.
   */
  readonly afterWrite?: () => Promise<void>;
  readonly reject: (record: R, reason: RejectionReason, error: string) => Promise<void>;
  readonly log: Logger;
  /**
   * Counts alias conflicts and the lifecycle (transitions by state, anomalies, time to complete);
   * the other consumer metrics are counted by the caller from the result.
   */
  readonly metrics?: Pick<IngestMetrics, "aliasConflicts"> &
    Partial<Pick<IngestMetrics, "transitions" | "anomalies" | "initiatedToCompleted">>;
  /** Shape, size and clock limits (`source.limits`); the defaults when omitted. */
  readonly limits?: EventLimits;
  /**
   * Resolves when Redis answers. Asked when a record fails for no evident reason: with Redis healthy
   * and the same failure on a second try, the record is at fault and is rejected as `apply_failed`.
   */
  readonly probe?: () => Promise<void>;
  readonly now?: () => Date;
  /** Spans `ingest` per record, children of the record's `traceparent` header; no-op when absent. */
  readonly tracer?: Tracer;
}

export type IngestResult =
  | { readonly result: "rejected"; readonly reason: RejectionReason }
  | { readonly result: "skipped" }
  | {
      readonly result: "applied" | "stale" | "duplicate";
      readonly key: string;
      readonly version: number;
      readonly destinations: readonly string[];
    };

function traceparentOf(headers: IngestRecord["headers"]): string | undefined {
  const value = headers.traceparent;
  return value === undefined ? undefined : value.toString();
}

/**
 * One record in: rejected with its reason, or applied to the store and enqueued for every routed
 * destination. A duplicate still enqueues: the crash between apply and enqueue leaves exactly
 * that, and the job id makes the enqueue a no-op when it had happened.
 */
export function createIngest<R extends IngestRecord>(
  settings: IngestSettings<R>,
): (record: R) => Promise<IngestResult> {
  const now = settings.now ?? (() => new Date());
  const tracer = settings.tracer ?? NOOP_TRACER;
  const limits = settings.limits ?? DEFAULT_EVENT_LIMITS;
  const rejectRecord = async (record: R, reason: RejectionReason, error: string): Promise<IngestResult> => {
    await settings.reject(record, reason, error);
    settings.log.warn({ reason, error }, "event rejected");
    return { result: "rejected", reason };
  };
  const routeOf = (event: HandoffEvent, stage: LifecycleStage): readonly string[] => {
    try {
      return settings.route({
        state: event.state,
        stage,
        ...(event.channel !== undefined ? { channel: event.channel } : {}),
        ...(event.destination !== undefined ? { destination: event.destination } : {}),
        ...(event.reason !== undefined ? { reason: event.reason } : {}),
      });
    } catch (error) {
      throw new UnprocessableEventError(
        "apply_failed",
        `routing the event failed: ${describeFailure(error)}`,
        { cause: error },
      );
    }
  };
  // `traceparent` is what the jobs carry: the ingest span's, so deliveries are its children.
  const handle = async (record: R, traceparent: string | undefined): Promise<IngestResult> => {
    const decoded = decodeHandoffEvent(record.value, {
      maxBytes: settings.maxBytes,
      catalogue: settings.catalogue,
      timestamp: record.timestamp,
      limits,
      now: now().getTime(),
      ...(settings.input !== undefined ? { input: settings.input } : {}),
    });
    if (!decoded.ok && decoded.skipped === true) {
      settings.log.debug({ why: decoded.why }, "record skipped");
      return { result: "skipped" };
    }
    if (!decoded.ok) return rejectRecord(record, decoded.reason, decoded.error);
    const event: HandoffEvent = decoded.event;
    const applied = await settings.store.apply(event, {
      catalogue: settings.catalogue,
      receivedAt: now().toISOString(),
      maxSnapshotBytes: limits.max_snapshot_bytes,
    });
    for (const conflict of applied.conflicts) {
      // Aliases never move (decision 0003): an operator decides whether the two handoffs are one.
      settings.metrics?.aliasConflicts.inc({ kind: conflict.kind });
      settings.log.warn(
        {
          handoffKey: applied.key,
          aliasKind: conflict.kind,
          aliasedTo: conflict.aliasedTo,
          eventId: event.event_id,
        },
        "alias conflict",
      );
    }
    const stage = settings.catalogue.stageOf(event.state);
    const destinations = stage === undefined ? [] : routeOf(event, stage);
    const observed = observeLifecycle({ ...applied, eventId: event.event_id });
    if (observed.transition !== undefined) settings.metrics?.transitions?.inc(observed.transition);
    if (observed.anomaly !== undefined) {
      settings.metrics?.anomalies?.inc({ anomaly: observed.anomaly });
      settings.log.warn(
        { handoffKey: applied.key, eventId: event.event_id, state: event.state, anomaly: observed.anomaly },
        "handoff state anomaly",
      );
    }
    if (observed.initiatedToCompletedSeconds !== undefined)
      settings.metrics?.initiatedToCompleted?.observe(observed.initiatedToCompletedSeconds);
    const job: DeliveryJob = {
      v: 1,
      key: applied.key,
      version: applied.snapshot.version,
      event_id: event.event_id,
      occurred_at: event.occurred_at,
      enqueued_at: now().toISOString(),
      ...(traceparent !== undefined ? { traceparent } : {}),
    };
    await Promise.all(destinations.map((destination) => settings.enqueue(destination, job)));
    // Also for a duplicate or an unrouted event: a redelivered record whose first WAIT failed must
    // wait again before its offset goes.
    await settings.afterWrite?.();
    // Checked first so the hot path builds no log fields that would be thrown away.
    if (settings.log.isLevelEnabled("debug")) {
      // `data` is the event's handoff data: LOG_REDACT_PATHS names its personal fields (`data.email`).
      settings.log.debug(
        {
          handoffKey: applied.key,
          version: job.version,
          outcome: applied.outcome,
          destinations,
          data: event.data,
        },
        "event ingested",
      );
    }
    return { result: applied.outcome, key: applied.key, version: job.version, destinations };
  };
  const settle = async (
    record: R,
    traceparent: string | undefined,
  ): Promise<{ ok: true; result: IngestResult } | { ok: false; error: unknown }> => {
    try {
      return { ok: true, result: await handle(record, traceparent) };
    } catch (error) {
      return { ok: false, error };
    }
  };
  /**
   * A record-caused failure rejects the record; an infrastructure one throws, so the batch stops
   * and the record is consumed again. An unexplained one is tried again once Redis has answered:
   * failing the same way twice with healthy infrastructure, it is the record's (docs/guarantees.md).
   */
  const judge = async (record: R, traceparent: string | undefined): Promise<IngestResult> => {
    const first = await settle(record, traceparent);
    if (first.ok) return first.result;
    let failure = first.error;
    let origin = failureOrigin(failure);
    if (origin === "unknown") {
      await settings.probe?.();
      const second = await settle(record, traceparent);
      if (second.ok) return second.result;
      origin = failureOrigin(second.error);
      if (origin === "unknown" && !sameFailure(first.error, second.error)) origin = "infrastructure";
      failure = second.error;
    }
    if (origin === "infrastructure") throw failure;
    const reason: RejectionReason =
      failure instanceof UnprocessableEventError ? failure.reason : "apply_failed";
    return rejectRecord(record, reason, describeFailure(failure));
  };
  return async (record) => {
    const { span, traceparent } = startSpanFrom(tracer, "ingest", traceparentOf(record.headers), {
      kind: SpanKind.CONSUMER,
    });
    try {
      const result = await judge(record, traceparent);
      span.setAttribute("handoff_sync.outcome", result.result);
      if (result.result === "rejected") span.setAttribute("handoff_sync.rejection_reason", result.reason);
      else if (result.result !== "skipped")
        span.setAttributes({
          "handoff_sync.handoff_key": result.key,
          "handoff_sync.version": result.version,
          "handoff_sync.destinations": [...result.destinations],
        });
      return result;
    } catch (error) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      throw error;
    } finally {
      span.end();
    }
  };
}
