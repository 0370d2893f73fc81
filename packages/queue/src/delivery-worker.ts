import {
  computeBackoffMs,
  DeliveryError,
  isRetryable,
  parseDeliveryJob,
  type AttemptLogEntry,
  type DeadLetterReason,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import type { HandoffStore } from "@handoff-sync/store";
import type { Logger } from "@handoff-sync/telemetry";
import { UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { addDeadLetter } from "./dead-letters.js";
import type { DestinationQueue } from "./delivery-queues.js";

export interface DeliverResult {
  readonly recordId?: string;
  readonly status?: number;
}

export interface DeliverRequest {
  readonly snapshot: HandoffSnapshot;
  readonly destination: string;
  readonly signal: AbortSignal;
  readonly previous?: { readonly version: number; readonly recordId?: string };
}

export type DeliverFn = (request: DeliverRequest) => Promise<DeliverResult>;

export type DeliveryOutcome =
  | { readonly outcome: "delivered"; readonly version: number; readonly recordId?: string }
  | { readonly outcome: "already_delivered"; readonly version: number; readonly deliveredVersion: number }
  | { readonly outcome: "missing" };

export interface DeliveryWorkerSettings {
  readonly queue: DestinationQueue;
  readonly connection: Redis;
  readonly store: HandoffStore;
  readonly deliver: DeliverFn;
  readonly log: Logger;
  readonly concurrency: number;
  /** Injected so tests can bound the jitter; Math.random in production. */
  readonly random?: () => number;
  readonly lockDurationMs?: number;
  readonly maxStalledCount?: number;
  readonly now?: () => Date;
  /**
   * Completes a snapshot before delivery (e.g. fetches `data` from an upstream Handoff API when
   * events carry only ids). Its errors are classified and retried like delivery errors.
   */
  readonly enrich?: (snapshot: HandoffSnapshot, signal: AbortSignal) => Promise<HandoffSnapshot>;
}

const EXCERPT_LIMIT = 512;

function describe(error: unknown): { message: string; status?: number; excerpt?: string } {
  if (error instanceof DeliveryError) {
    return {
      message: error.message,
      ...(error.status !== undefined ? { status: error.status } : {}),
      ...(error.responseExcerpt !== undefined ? { excerpt: error.responseExcerpt.slice(0, EXCERPT_LIMIT) } : {}),
    };
  }
  return { message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

function outcomeOf(error: unknown): AttemptLogEntry["outcome"] {
  if (error instanceof DeliveryError) {
    if (error.scope === "destination") return error.name === "AuthError" ? "auth" : "destination";
    return error.retryable ? "retryable" : "permanent";
  }
  return isRetryable(error) ? "unknown" : "permanent";
}

/**
 * Processes one destination's delivery jobs: loads the latest snapshot, skips versions the CRM
 * already has, delivers, records the ledger, and dead-letters permanent or exhausted failures
 * inside the processor (awaited) before the job fails.
 */
export function createDeliveryWorker(settings: DeliveryWorkerSettings): Worker {
  const { queue, store, log } = settings;
  const destination = queue.destination;
  const random = settings.random ?? Math.random;
  const now = settings.now ?? (() => new Date());

  const process = async (job: Job, _token?: string, signal?: AbortSignal): Promise<DeliveryOutcome> => {
    const parsed = parseDeliveryJob(job.data);
    if (!parsed.ok) {
      // A payload this version cannot read will not become readable by retrying.
      throw new UnrecoverableError(`unreadable delivery job: ${parsed.message}`);
    }
    const data = parsed.job;
    const jobLog = log.child({ handoffKey: data.key, jobId: job.id, destination, attempt: job.attemptsMade + 1 });
    const snapshot = await store.get(data.key);
    if (!snapshot) {
      jobLog.warn("handoff no longer in the store; nothing to deliver");
      return { outcome: "missing" };
    }
    const delivered = await store.getDelivery(data.key, destination);
    if (delivered && delivered.version >= snapshot.version) {
      jobLog.debug({ version: snapshot.version, deliveredVersion: delivered.version }, "already delivered");
      return { outcome: "already_delivered", version: snapshot.version, deliveredVersion: delivered.version };
    }
    const started = Date.now();
    try {
      const abort = signal ?? new AbortController().signal;
      const complete = settings.enrich ? await settings.enrich(snapshot, abort) : snapshot;
      const result = await settings.deliver({
        snapshot: complete,
        destination,
        signal: abort,
        ...(delivered ? { previous: { version: delivered.version, ...(delivered.record_id !== undefined ? { recordId: delivered.record_id } : {}) } } : {}),
      });
      const deliveredAt = now().toISOString();
      await store.recordDelivery(data.key, destination, {
        version: snapshot.version,
        delivered_at: deliveredAt,
        ...((result.recordId ?? delivered?.record_id) !== undefined ? { record_id: result.recordId ?? delivered?.record_id } : {}),
      });
      await store.clearAttempts(data.key, destination);
      jobLog.info({ version: snapshot.version, outcome: "delivered", status: result.status, durationMs: Date.now() - started }, "delivery attempt");
      return { outcome: "delivered", version: snapshot.version, ...(result.recordId !== undefined ? { recordId: result.recordId } : {}) };
    } catch (error) {
      const described = describe(error);
      const attempt: AttemptLogEntry = {
        attempt: job.attemptsMade + 1,
        at: now().toISOString(),
        outcome: outcomeOf(error),
        error: described.message,
        duration_ms: Date.now() - started,
        ...(described.status !== undefined ? { status: described.status } : {}),
        ...(described.excerpt !== undefined ? { response_excerpt: described.excerpt } : {}),
      };
      await store.appendAttempt(data.key, destination, attempt);
      const permanent = !isRetryable(error);
      const exhausted = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      jobLog.warn({ version: snapshot.version, outcome: attempt.outcome, status: described.status, err: described.message, durationMs: attempt.duration_ms, final: permanent || exhausted }, "delivery attempt");
      if (permanent || exhausted) {
        const reason: DeadLetterReason = permanent ? "permanent" : "exhausted";
        const attempts = await store.getAttempts(data.key, destination);
        await addDeadLetter(queue.dead, {
          key: data.key,
          destination,
          version: snapshot.version,
          reason,
          error: described.message,
          attempts,
          ...(attempts[0] ? { first_attempt_at: attempts[0].at } : {}),
          dead_lettered_at: now().toISOString(),
        });
        await store.clearAttempts(data.key, destination);
        jobLog.error({ reason, version: snapshot.version }, "dead-lettered");
        const unrecoverable = new UnrecoverableError(described.message);
        unrecoverable.cause = error;
        throw unrecoverable;
      }
      throw error;
    }
  };

  const worker = new Worker(queue.deliver.name, process, {
    connection: settings.connection,
    prefix: queue.deliver.opts.prefix ?? "bull",
    concurrency: settings.concurrency,
    lockDuration: settings.lockDurationMs ?? 10_000,
    maxStalledCount: settings.maxStalledCount ?? 2,
    settings: {
      backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
        computeBackoffMs(attemptsMade, queue.policy, random, error instanceof DeliveryError ? error.retryAfterMs : undefined),
    },
  });
  worker.on("error", (error) => log.error({ err: error, destination }, "worker error"));
  return worker;
}

