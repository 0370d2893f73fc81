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
  /** The Kafka key: records with the same key are applied one after another, in the order given. */
  readonly key?: Buffer | null;
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
   * Enqueues several jobs of one destination in one round trip (BullMQ `addBulk`); `ingestBatch`
   * uses it when given, else `enqueue` per job. At most one job per handoff per call.
   */
  readonly enqueueBulk?: (destination: string, jobs: readonly DeliveryJob[]) => Promise<void>;
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

/** A job for one destination, as an applied record asks for it. */
export interface RoutedJob {
  readonly destination: string;
  readonly job: DeliveryJob;
}

/** One record, applied (or rejected, or skipped) but not yet enqueued. */
interface Prepared {
  readonly result: IngestResult;
  readonly jobs: readonly RoutedJob[];
  /** What the debug line of an ingested event says, once its jobs are enqueued. */
  readonly ingested?: { readonly outcome: string; readonly data: unknown };
}

export interface Ingest<R extends IngestRecord> {
  /** One record: applied and enqueued (or rejected), its writes acknowledged (`afterWrite`). */
  (record: R): Promise<IngestResult>;
  /**
   * Records of one partition, in offset order: every record is applied (records with the same
   * Kafka key one after another, others at once, so their round trips share the connection's
   * pipeline), then each destination gets one bulk enqueue holding the newest job per handoff, then
   * `afterWrite` once. It resolves only when every record is enqueued or rejected; a throw means none
   * of the records may be resolved (they are consumed again, which apply and job ids make harmless).
   */
  ingestBatch(records: readonly R[]): Promise<IngestResult[]>;
}

/**
 * The newest job per (destination, handoff) of a batch, in first-seen order per destination. A job
 * names a handoff and the version to deliver at least; the worker always loads the latest snapshot,
 * and BullMQ's deduplication would fold the older ones into the waiting job anyway, so sending only
 * the newest changes nothing the CRM sees and saves one script call per folded job.
 */
export function newestJobs(routed: Iterable<RoutedJob>): Map<string, DeliveryJob[]> {
  const newest = new Map<string, Map<string, DeliveryJob>>();
  for (const { destination, job } of routed) {
    let perKey = newest.get(destination);
    if (perKey === undefined) {
      perKey = new Map();
      newest.set(destination, perKey);
    }
    const seen = perKey.get(job.key);
    if (seen === undefined || job.version >= seen.version) perKey.set(job.key, job);
  }
  return new Map([...newest].map(([destination, perKey]) => [destination, [...perKey.values()]]));
}

/**
 * Runs `run` for every item at once, except that items with the same key run one after another in
 * the order given (the next starts only when the previous succeeded). Waits for all of them, then
 * returns the results in the order given or throws the first failure in that order.
 */
export async function inKeyOrder<T extends { readonly key?: Buffer | null }, U>(
  items: readonly T[],
  run: (item: T) => Promise<U>,
): Promise<U[]> {
  const tails = new Map<string, Promise<U>>();
  const runs = items.map((item) => {
    // Keyless records carry no order of their own: Kafka spreads them over partitions.
    const key = item.key === undefined || item.key === null ? undefined : item.key.toString("latin1");
    const previous = key === undefined ? undefined : tails.get(key);
    const started = previous === undefined ? run(item) : previous.then(() => run(item));
    if (key !== undefined) tails.set(key, started);
    return started;
  });
  const settled = await Promise.allSettled(runs);
  return settled.map((outcome) => {
    if (outcome.status === "rejected") throw outcome.reason;
    return outcome.value;
  });
}

/**
 * Records in: each rejected with its reason, or applied to the store and enqueued for every routed
 * destination. A duplicate still enqueues: the crash between apply and enqueue leaves exactly
 * that, and the job id makes the enqueue a no-op when it had happened.
 */
export function createIngest<R extends IngestRecord>(settings: IngestSettings<R>): Ingest<R> {
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
  const prepare = async (record: R, traceparent: string | undefined): Promise<Prepared> => {
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
      return { result: { result: "skipped" }, jobs: [] };
    }
    if (!decoded.ok) return { result: await rejectRecord(record, decoded.reason, decoded.error), jobs: [] };
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
    return {
      result: { result: applied.outcome, key: applied.key, version: job.version, destinations },
      jobs: destinations.map((destination) => ({ destination, job })),
      ingested: { outcome: applied.outcome, data: event.data },
    };
  };
  const logIngested = (prepared: Prepared): void => {
    const { result, ingested } = prepared;
    // Checked first so the hot path builds no log fields that would be thrown away.
    if (ingested === undefined || !settings.log.isLevelEnabled("debug")) return;
    if (result.result === "rejected" || result.result === "skipped") return;
    // `data` is the event's handoff data: LOG_REDACT_PATHS names its personal fields (`data.email`).
    settings.log.debug(
      {
        handoffKey: result.key,
        version: result.version,
        outcome: ingested.outcome,
        destinations: result.destinations,
        data: ingested.data,
      },
      "event ingested",
    );
  };
  const handle = async (record: R, traceparent: string | undefined): Promise<IngestResult> => {
    const prepared = await prepare(record, traceparent);
    await Promise.all(prepared.jobs.map(({ destination, job }) => settings.enqueue(destination, job)));
    // Also for a duplicate or an unrouted event: a redelivered record whose first WAIT failed must
    // wait again before its offset goes.
    if (prepared.result.result !== "rejected" && prepared.result.result !== "skipped")
      await settings.afterWrite?.();
    logIngested(prepared);
    return prepared.result;
  };
  const settle = async <T>(
    attempt: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> => {
    try {
      return { ok: true, value: await attempt() };
    } catch (error) {
      return { ok: false, error };
    }
  };
  /**
   * A record-caused failure rejects the record; an infrastructure one throws, so the batch stops
   * and the record is consumed again. An unexplained one is tried again once Redis has answered:
   * failing the same way twice with healthy infrastructure, it is the record's (docs/guarantees.md).
   */
  const judge = async <T>(
    record: R,
    attempt: () => Promise<T>,
    rejected: (result: IngestResult) => T,
  ): Promise<T> => {
    const first = await settle(attempt);
    if (first.ok) return first.value;
    let failure = first.error;
    let origin = failureOrigin(failure);
    if (origin === "unknown") {
      await settings.probe?.();
      const second = await settle(attempt);
      if (second.ok) return second.value;
      origin = failureOrigin(second.error);
      if (origin === "unknown" && !sameFailure(first.error, second.error)) origin = "infrastructure";
      failure = second.error;
    }
    if (origin === "infrastructure") throw failure;
    const reason: RejectionReason =
      failure instanceof UnprocessableEventError ? failure.reason : "apply_failed";
    return rejected(await rejectRecord(record, reason, describeFailure(failure)));
  };
  const traced = async <T>(
    record: R,
    run: (traceparent: string | undefined) => Promise<T>,
    resultOf: (value: T) => IngestResult,
  ): Promise<T> => {
    const { span, traceparent } = startSpanFrom(tracer, "ingest", traceparentOf(record.headers), {
      kind: SpanKind.CONSUMER,
    });
    try {
      const value = await run(traceparent);
      const result = resultOf(value);
      span.setAttribute("handoff_sync.outcome", result.result);
      if (result.result === "rejected") span.setAttribute("handoff_sync.rejection_reason", result.reason);
      else if (result.result !== "skipped")
        span.setAttributes({
          "handoff_sync.handoff_key": result.key,
          "handoff_sync.version": result.version,
          "handoff_sync.destinations": [...result.destinations],
        });
      return value;
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
  const ingestOne = (record: R): Promise<IngestResult> =>
    traced(
      record,
      (traceparent) =>
        judge(
          record,
          () => handle(record, traceparent),
          (result) => result,
        ),
      (result) => result,
    );
  const enqueueNewest = async (prepared: readonly Prepared[]): Promise<void> => {
    const newest = newestJobs(prepared.flatMap((p) => p.jobs));
    await Promise.all(
      [...newest].map(([destination, jobs]) =>
        settings.enqueueBulk !== undefined
          ? settings.enqueueBulk(destination, jobs)
          : Promise.all(jobs.map((job) => settings.enqueue(destination, job))),
      ),
    );
  };
  const ingestBatch = async (records: readonly R[]): Promise<IngestResult[]> => {
    // The span of a record covers its apply; the bulk enqueue is shared by the batch.
    const prepared = await inKeyOrder(records, (record) =>
      traced(
        record,
        (traceparent) =>
          judge(
            record,
            () => prepare(record, traceparent),
            (result): Prepared => ({ result, jobs: [] }),
          ),
        (p) => p.result,
      ),
    );
    try {
      await enqueueNewest(prepared);
    } catch (error) {
      if (failureOrigin(error) === "infrastructure") throw error;
      // A failure that names no record: each applied record again on its own, one by one, where a
      // record that fails the same way twice is rejected and the others go through. Their applies
      // are duplicates now; what was already enqueued is a no-op by job id.
      const results: IngestResult[] = [];
      for (const [index, record] of records.entries()) {
        const earlier = prepared[index];
        if (earlier === undefined) continue;
        const { result } = earlier;
        results.push(
          result.result === "rejected" || result.result === "skipped" ? result : await ingestOne(record),
        );
      }
      return results;
    }
    // Once for the batch, also when every record was a duplicate: a redelivered batch whose first
    // WAIT failed must wait again before its offsets go.
    if (prepared.some((p) => p.result.result !== "rejected" && p.result.result !== "skipped"))
      await settings.afterWrite?.();
    for (const p of prepared) logIngested(p);
    return prepared.map((p) => p.result);
  };
  return Object.assign(ingestOne, { ingestBatch });
}
