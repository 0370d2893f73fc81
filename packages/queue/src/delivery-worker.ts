import {
  AuthError,
  computeBackoffMs,
  DeliveryError,
  DestinationError,
  isRetryable,
  parseDeliveryJob,
  QuotaExhaustedError,
  RetryableDeliveryError,
  SupersededDeliveryError,
  type AttemptLogEntry,
  type DeadLetterReason,
  type DeliveryJob,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import type { HandoffStore } from "@handoff-sync/store";
import {
  NOOP_TRACER,
  SpanKind,
  SpanStatusCode,
  startSpanFrom,
  type Logger,
  type Span,
  loggerForPlainFields,
  type Tracer,
} from "@handoff-sync/telemetry";
import { DelayedError, UnrecoverableError, Worker, type Job } from "bullmq";
import type { RedisClient } from "@handoff-sync/store";
import { randomUUID } from "node:crypto";
import { addDeadLetter } from "./dead-letters.js";
import type { DestinationQueue } from "./delivery-queues.js";
import type { ParkCause } from "./destination-state.js";
import { parkDestination } from "./park.js";

export interface DeliverResult {
  readonly recordId?: string;
  readonly status?: number;
}

export interface DeliverRequest {
  readonly snapshot: HandoffSnapshot;
  readonly destination: string;
  readonly signal: AbortSignal;
  readonly previous?: { readonly version: number; readonly recordId?: string };
  /** W3C trace context of this attempt's span, for the CRM request's `traceparent` header. */
  readonly traceparent?: string;
  /**
   * Called right before each request that changes the CRM: throws a `SupersededDeliveryError`
   * when this delivery may no longer write (fenced out by a later one, lock lost, or the ledger
   * already has this version).
   */
  readonly beforeWrite: () => Promise<void>;
  /**
   * Checked synchronously as each write is put on its connection: refuses a write whose last
   * `beforeWrite` passed longer ago than a quarter of the lock duration, since the lock may have
   * expired meanwhile (the process stalled after the check) and another worker taken the job.
   */
  readonly sendGuard: () => Error | undefined;
}

export type DeliverFn = (request: DeliverRequest) => Promise<DeliverResult>;

export type DeliveryOutcome =
  | { readonly outcome: "delivered"; readonly version: number; readonly recordId?: string }
  | { readonly outcome: "already_delivered"; readonly version: number; readonly deliveredVersion: number }
  | { readonly outcome: "missing" };

/** What happened to one attempt, for metrics; the log line says the same. */
export type AttemptOutcome =
  "delivered" | "skipped" | "retry" | "rate_limited" | "parked" | "dead_lettered" | "returned" | "superseded";

export interface DeliveryWorkerSettings {
  readonly queue: DestinationQueue;
  readonly connection: RedisClient;
  readonly store: HandoffStore;
  readonly deliver: DeliverFn;
  readonly log: Logger;
  readonly concurrency: number;
  /** Injected so tests can bound the jitter; Math.random in production. */
  readonly random?: () => number;
  readonly lockDurationMs?: number;
  /** The destination's request timeout (`timeout_ms`): how long a write can be on its way. */
  readonly requestTimeoutMs?: number;
  /**
   * How long after its timeout a CRM may still apply a write whose answer never came (a slow
   * transaction behind a timed-out request). No other delivery of the handoff to this destination
   * starts before then (decision 0017).
   */
  readonly writeSettleMs?: number;
  /**
   * Whether the delivery's begin script also claims its first write (decision 0017), which then needs
   * no round trip of its own. Turn it off for adapters that read the CRM before their first write:
   * the claim is held from the begin, so a worker stopped during that read (a freeze, a kill) would
   * hold every other worker back for the claim's whole life instead of being fenced out at once.
   * Default true.
   */
  readonly claimWithBegin?: boolean;
  /** How often this worker looks for jobs whose lock expired (BullMQ's `stalledInterval`). */
  readonly stalledIntervalMs?: number;
  readonly maxStalledCount?: number;
  readonly now?: () => Date;
  /** Jobs per `durationMs` this destination may start, across all workers. */
  readonly rateLimit?: { readonly max: number; readonly durationMs: number };
  /** The same permanent error on this many records in a row parks the destination. */
  readonly parkAfterIdenticalFailures?: number;
  /**
   * A delivery that has parked its destination this many times (a destination-wide error each time,
   * with resumes in between) is dead-lettered on the next such error instead of parking it again:
   * an error that only this record provokes must not hold the destination hostage. Default 3; at
   * most 24 (the attempt log, where parks are counted, keeps 25 entries).
   */
  readonly maxParksPerDelivery?: number;
  /** A destination answering 429 for longer than this is parked instead of waited on forever. */
  readonly parkAfterRateLimitedMs?: number;
  /**
   * Completes a snapshot before delivery (e.g. fetches `data` from an upstream Handoff API when
   * events carry only ids). Its errors are classified and retried like delivery errors.
   */
  readonly enrich?: (snapshot: HandoffSnapshot, signal: AbortSignal) => Promise<HandoffSnapshot>;
  /** Where a delivery past its deadline goes instead of the dead-letter queue, if anywhere. */
  readonly onExpired?: (snapshot: HandoffSnapshot) => Promise<boolean>;
  readonly onAttempt?: (
    outcome: AttemptOutcome,
    info: { durationMs: number; snapshot?: HandoffSnapshot },
  ) => void;
  /** Spans `deliver <destination>` per attempt, children of the job's `traceparent`; no-op when absent. */
  readonly tracer?: Tracer;
}

const EXCERPT_LIMIT = 512;

/**
 * The limiter a destination without a configured rate limit gets. It never binds by itself; it
 * exists because BullMQ only honours a 429's queue-wide wait when a limiter is set. A queue counts as
 * rate-limited only when its limiter counter reaches `max`, which is what a 429 sets.
 */
export const DEFAULT_LIMITER = { max: 100_000, duration: 1000 } as const;
const PARKED_RECHECK_MS = 1000;
/** The abort reason of a delivery whose queue lock could not be renewed. */
const LOCK_LOST = "lock lost";

function describe(error: unknown): { message: string; status?: number; excerpt?: string } {
  if (error instanceof DeliveryError) {
    return {
      message: error.message,
      ...(error.status !== undefined ? { status: error.status } : {}),
      ...(error.responseExcerpt !== undefined
        ? { excerpt: error.responseExcerpt.slice(0, EXCERPT_LIMIT) }
        : {}),
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
 * Whether the CRM answered the attempt's last request: its writes then cannot land later. A
 * timeout, a reset or a gateway's 502/504 (its upstream may still be working) leave that open.
 */
function answered(error: unknown): boolean {
  return (
    error instanceof DeliveryError &&
    error.status !== undefined &&
    error.status !== 502 &&
    error.status !== 504
  );
}

/**
 * Why a destination-wide error parks: rejected credentials, the CRM itself failing (a 5xx or no
 * answer, which no configuration fixes), or anything else the CRM admin must change.
 */
export function destinationCause(error: DestinationError): ParkCause {
  if (error instanceof AuthError) return "auth";
  if (error instanceof QuotaExhaustedError) return "quota";
  if (error.status === undefined || error.status >= 500) return "outage";
  return "config";
}

/** Identical failures share a signature: the status and the message without ids and numbers. */
function failureSignature(error: unknown): string {
  const { message, status } = describe(error);
  return `${status ?? "-"}:${message.replace(/[0-9a-f]{8,}|\d+/gi, "#").slice(0, 200)}`;
}

/**
 * Processes one destination's delivery jobs: loads the latest snapshot, skips versions the CRM
 * already has, delivers, records the ledger. Failures are handled by scope: record-level
 * permanent ones are dead-lettered at once, destination-wide ones park the destination (the job
 * waits), 429s rate-limit the queue, others retry with backoff until exhausted. Dead-lettering
 * happens inside the processor and is awaited before the job fails.
 */
export function createDeliveryWorker(settings: DeliveryWorkerSettings): Worker {
  const { queue, store, log } = settings;
  const { destination, policy, state } = queue;
  const random = settings.random ?? Math.random;
  const now = settings.now ?? (() => new Date());
  const parkAfterIdentical = settings.parkAfterIdenticalFailures ?? 5;
  const parkAfterRateLimitedMs = settings.parkAfterRateLimitedMs ?? 15 * 60_000;
  const maxParksPerDelivery = settings.maxParksPerDelivery ?? 3;
  const writeCheckMaxAgeMs = Math.floor((settings.lockDurationMs ?? 10_000) / 4);
  // A write leaves within writeCheckMaxAgeMs of its claim (the send guard), is answered or given up
  // within the request timeout, and may be applied up to the settle time after that.
  const writeClaimMs =
    writeCheckMaxAgeMs + (settings.requestTimeoutMs ?? 10_000) + (settings.writeSettleMs ?? 10_000);
  const claimWithBegin = settings.claimWithBegin === false ? {} : { claimWriteMs: writeClaimMs };
  const onAttempt = settings.onAttempt ?? (() => undefined);
  const tracer = settings.tracer ?? NOOP_TRACER;
  // The success line is written once per delivery and holds only these primitive fields: it skips
  // the redaction walk unless a configured redact path names one of them.
  const successLog = loggerForPlainFields(log, [
    "handoffKey",
    "jobId",
    "destination",
    "attempt",
    "traceId",
    "version",
    "outcome",
    "status",
    "durationMs",
  ]);

  // The job keeps its attempts: it waits (paused queue, shutdown) rather than failing.
  const putBack = async (job: Job, token: string | undefined, delayMs: number): Promise<never> => {
    await job.moveToDelayed(Date.now() + delayMs, token);
    throw new DelayedError();
  };

  const deadLetter = async (
    job: Job,
    key: string,
    snapshot: HandoffSnapshot,
    reason: DeadLetterReason,
    error: string,
    cause: unknown,
    jobLog: Logger,
  ): Promise<never> => {
    const attempts = await store.getAttempts(key, destination);
    await addDeadLetter(queue.dead, {
      key,
      destination,
      version: snapshot.version,
      reason,
      error,
      attempts,
      ...(attempts[0] ? { first_attempt_at: attempts[0].at } : {}),
      dead_lettered_at: now().toISOString(),
    });
    await store.clearAttempts(key, destination);
    jobLog.error({ reason, version: snapshot.version, err: error }, "dead-lettered");
    const unrecoverable = new UnrecoverableError(error);
    unrecoverable.cause = cause;
    throw unrecoverable;
  };

  const pastDeadline = (snapshot: HandoffSnapshot): boolean =>
    policy.deadline_ms !== undefined &&
    now().getTime() - Date.parse(snapshot.occurred_at) > policy.deadline_ms;

  const process = async (job: Job, token?: string, signal?: AbortSignal): Promise<DeliveryOutcome> => {
    const parsed = parseDeliveryJob(job.data);
    if (!parsed.ok) {
      // A payload this version cannot read will not become readable by retrying; it is kept as a
      // dead letter (under whatever key and version it names) so it can be replayed after an upgrade.
      const raw: Record<string, unknown> =
        typeof job.data === "object" && job.data !== null ? (job.data as Record<string, unknown>) : {};
      const key =
        typeof raw.key === "string" && raw.key !== "" ? raw.key : `unreadable-job-${job.id ?? "unknown"}`;
      const version =
        typeof raw.version === "number" && Number.isInteger(raw.version) && raw.version >= 1
          ? raw.version
          : 1;
      const error = `unreadable delivery job: ${parsed.message}`;
      await addDeadLetter(queue.dead, {
        key,
        destination,
        version,
        reason: "permanent",
        error,
        attempts: [],
        dead_lettered_at: now().toISOString(),
      });
      log.error({ jobId: job.id, destination, err: error }, "dead-lettered");
      throw new UnrecoverableError(error);
    }
    const data = parsed.job;
    const traced = startSpanFrom(tracer, `deliver ${destination}`, data.traceparent, {
      kind: SpanKind.CLIENT,
      attributes: {
        "handoff_sync.handoff_key": data.key,
        "handoff_sync.destination": destination,
        "handoff_sync.attempt": job.attemptsMade + 1,
      },
    });
    try {
      return await runAttempt(job, token, signal, data, traced);
    } finally {
      traced.span.end();
    }
  };

  const runAttempt = async (
    job: Job,
    token: string | undefined,
    signal: AbortSignal | undefined,
    data: DeliveryJob,
    { span, traceparent }: { span: Span; traceparent: string | undefined },
  ): Promise<DeliveryOutcome> => {
    const report = (
      outcome: AttemptOutcome,
      info: { durationMs: number; snapshot?: HandoffSnapshot },
    ): void => {
      span.setAttribute("handoff_sync.outcome", outcome);
      onAttempt(outcome, info);
    };
    // The trace id on every line of the attempt lets operators go from a log line to its trace.
    const traceId = span.isRecording() ? span.spanContext().traceId : undefined;
    const jobFields = {
      handoffKey: data.key,
      jobId: job.id,
      destination,
      attempt: job.attemptsMade + 1,
      ...(traceId !== undefined ? { traceId } : {}),
    };
    // Built only when a line other than the success line is written: most attempts write just
    // that one, with the same fields inline, and a child logger per job was measurable churn.
    let jobLogger: Logger | undefined;
    const jobLog = (): Logger => (jobLogger ??= log.child(jobFields));
    // The fencing token is this attempt, drawn afresh: taking it fences out any delivery of this
    // handoff to this destination that started earlier and still runs, e.g. one whose worker stalled
    // past its lock. Not BullMQ's lock token: that belongs to a worker slot, which carries it to the
    // next job it fetches in the same call, so a retry of this job taken by the same slot would hold
    // the first attempt's token and pass that attempt's write claim while its write may still land.
    // One script takes it, reads the snapshot and the ledger entry, and (unless `claimWithBegin` is
    // off) claims the first write (decision 0017) whenever that write's own check would grant it
    // now: one command, one round trip, none more before the first write when it comes soon enough
    // (see beforeWrite).
    const fence = randomUUID();
    // Counted from before the script is sent, as beforeWrite counts a claim's age (see there).
    const begun = Date.now();
    const {
      snapshot,
      delivered,
      fence: fenced,
      writeClaimed,
    } = await store.beginDelivery(data.key, destination, fence, claimWithBegin);
    // The claim taken with the begin, until the first beforeWrite uses it or gives it up.
    let preClaimedAt = writeClaimed ? begun : undefined;
    // Whether this attempt's token may hold a live claim.
    let holdsClaim = writeClaimed;
    // Only ever shortens the wait of the next delivery: a claim left in place merely expires, so a
    // failed release must not replace the attempt's own outcome.
    const releaseClaim = async (): Promise<void> => {
      holdsClaim = false;
      try {
        await store.releaseWrite(data.key, destination, fence);
      } catch (error) {
        jobLog().warn(
          { err: describe(error).message },
          "could not end the write claim; it expires on its own",
        );
      }
    };
    if (fenced.kind === "claimed") {
      // A lookup now could miss that write and create a second record, or write under an older
      // version that then lands on top. The job waits without spending an attempt.
      jobLog().info(
        { waitMs: fenced.waitMs },
        "an earlier write of this delivery may still land; waiting for it before writing",
      );
      report("returned", { durationMs: 0, ...(snapshot ? { snapshot } : {}) });
      return putBack(job, token, fenced.waitMs);
    }
    if (!snapshot) {
      jobLog().warn("handoff no longer in the store; nothing to deliver");
      report("skipped", { durationMs: 0 });
      return { outcome: "missing" };
    }
    span.setAttribute("handoff_sync.version", snapshot.version);
    if (delivered && delivered.version >= snapshot.version) {
      jobLog().debug({ version: snapshot.version, deliveredVersion: delivered.version }, "already delivered");
      report("skipped", { durationMs: 0, snapshot });
      return { outcome: "already_delivered", version: snapshot.version, deliveredVersion: delivered.version };
    }
    if (pastDeadline(snapshot)) {
      // Nothing is written past the deadline: the claim taken with the begin must not hold back
      // a later delivery of this handoff.
      if (holdsClaim) await releaseClaim();
      if (settings.onExpired && (await settings.onExpired(snapshot))) {
        jobLog().warn(
          { version: snapshot.version, deadlineMs: policy.deadline_ms },
          "past its deadline; sent to the fallback",
        );
        report("dead_lettered", { durationMs: 0, snapshot });
        return { outcome: "missing" };
      }
      report("dead_lettered", { durationMs: 0, snapshot });
      return deadLetter(
        job,
        data.key,
        snapshot,
        "expired",
        `not delivered within its deadline of ${policy.deadline_ms} ms`,
        undefined,
        jobLog(),
      );
    }

    const abort = signal ?? new AbortController().signal;
    // The last guard before the CRM is written: still the latest delivery, lock not lost, and the
    // ledger does not already hold this version.
    let checkedAt: number | undefined;
    // Whether a write may have left under this attempt's claim: its claim then ends only once that
    // write was answered.
    let claimed = false;
    const beforeWrite = async (): Promise<void> => {
      checkedAt = undefined;
      if (abort.aborted && abort.reason === LOCK_LOST)
        throw new SupersededDeliveryError("lock_lost", "the queue lock of this delivery was lost");
      // The begin script's claim serves the first write only, and only while the send guard would
      // let that write leave: its checks are then as good as a fresh claim's. No other delivery can
      // have taken the fence since (the claim refuses it for longer than the guard's age), and only
      // the fence's holder records the ledger. A later write, or a first one after a slow enrich or
      // lookup, claims afresh.
      const preClaimed = preClaimedAt;
      preClaimedAt = undefined;
      if (preClaimed !== undefined && Date.now() - preClaimed <= writeCheckMaxAgeMs) {
        claimed = true;
        checkedAt = preClaimed;
        return;
      }
      // The check's age counts from before the claim is asked for, not from its reply: the claim's
      // life starts when Redis runs the script, and a reply read late (a busy event loop, a process
      // stopped with it unread) must not make a check look younger than its claim. Else a write
      // could leave after its claim expired, beside a later delivery's lookup and create.
      const asked = Date.now();
      const claim = await store.claimWrite(data.key, destination, fence, {
        version: snapshot.version,
        ttlMs: writeClaimMs,
      });
      if (claim.kind === "fenced")
        throw new SupersededDeliveryError(
          "fenced",
          "a later delivery of this handoff to this destination has started",
        );
      if (claim.kind === "delivered") {
        throw new SupersededDeliveryError(
          "already_delivered",
          `the destination already has version ${claim.version}`,
        );
      }
      claimed = true;
      holdsClaim = true;
      checkedAt = asked;
    };
    // The asynchronous check above leaves a gap (DNS, connect) before the bytes go out; a stall in
    // that gap past the lock would let this write land beside another worker's. The lock is renewed
    // every half of its duration, so a check younger than a quarter of it proves the lock was still
    // ours when the write left. One check covers one write.
    const sendGuard = (): Error | undefined => {
      if (checkedAt === undefined) return undefined;
      const ageMs = Date.now() - checkedAt;
      checkedAt = undefined;
      if (abort.aborted && abort.reason === LOCK_LOST)
        return new SupersededDeliveryError("lock_lost", "the queue lock of this delivery was lost");
      if (ageMs <= writeCheckMaxAgeMs) return undefined;
      return new RetryableDeliveryError(
        `not sent: the check before this write is ${ageMs} ms old (more than ${writeCheckMaxAgeMs} ms; the worker stalled), so it is checked again on the next attempt`,
      );
    };
    const started = Date.now();
    try {
      const complete = settings.enrich ? await settings.enrich(snapshot, abort) : snapshot;
      const result = await settings.deliver({
        snapshot: complete,
        destination,
        signal: abort,
        beforeWrite,
        sendGuard,
        ...(traceparent !== undefined ? { traceparent } : {}),
        ...(delivered
          ? {
              previous: {
                version: delivered.version,
                ...(delivered.record_id !== undefined ? { recordId: delivered.record_id } : {}),
              },
            }
          : {}),
      });
      const recordId = result.recordId ?? delivered?.record_id;
      // One round trip: the ledger script also clears the attempt log (unless fenced out), and the
      // destination's failure streaks end beside it. A fenced-out write did reach the CRM, so
      // ending the streaks holds for it too.
      const [recorded] = await Promise.all([
        store.recordDelivery(
          data.key,
          destination,
          {
            version: snapshot.version,
            delivered_at: now().toISOString(),
            ...(recordId !== undefined ? { record_id: recordId } : {}),
          },
          fence,
          { clearAttempts: true },
        ),
        state.recordSuccess(),
      ]);
      // The ledger script ended this token's claim, recorded or not: the write was answered.
      holdsClaim = false;
      if (recorded === "fenced") {
        // Written after the last check, then overtaken: the later delivery re-reads and writes the
        // latest version over this one, and only its ledger entry counts.
        throw new SupersededDeliveryError(
          "fenced",
          "a later delivery of this handoff to this destination started while this one was writing",
        );
      }
      const durationMs = Date.now() - started;
      if (result.status !== undefined) span.setAttribute("http.response.status_code", result.status);
      successLog.info(
        { ...jobFields, version: snapshot.version, outcome: "delivered", status: result.status, durationMs },
        "delivery attempt",
      );
      report("delivered", { durationMs, snapshot });
      return {
        outcome: "delivered",
        version: snapshot.version,
        ...(recordId !== undefined ? { recordId } : {}),
      };
    } catch (error) {
      const durationMs = Date.now() - started;
      const superseded =
        error instanceof SupersededDeliveryError || (abort.aborted && abort.reason === LOCK_LOST);
      // A claim that no write went out under ends with the attempt, however it ended, or the next
      // delivery (this job's retry, another worker after a lost lock) would wait out all its life
      // for nothing. Once a write may have left, it ends only when that write was answered
      // (decision 0017); a superseded attempt leaves it to expire.
      if (holdsClaim && (!claimed || (!superseded && answered(error)))) await releaseClaim();
      if (error instanceof SupersededDeliveryError && error.reason === "already_delivered") {
        jobLog().info(
          { version: snapshot.version, durationMs, err: error.message },
          "already delivered by another delivery; nothing sent",
        );
        report("skipped", { durationMs, snapshot });
        return {
          outcome: "already_delivered",
          version: snapshot.version,
          deliveredVersion: snapshot.version,
        };
      }
      if (superseded) {
        // The job is no longer this worker's: its lock is gone or a later take of it fenced this
        // one out. Whoever holds it now delivers the latest snapshot; this attempt touches neither
        // the job nor the attempt log, and the failure it ends with cannot move the job (the
        // queue refuses a stale lock token).
        jobLog().warn(
          { version: snapshot.version, durationMs, err: describe(error).message },
          "delivery superseded; stopped without writing",
        );
        report("superseded", { durationMs, snapshot });
        const unrecoverable = new UnrecoverableError("delivery superseded by a later one");
        unrecoverable.cause = error;
        throw unrecoverable;
      }
      if (abort.aborted) {
        // Shutdown: hand the job back untouched for another worker.
        jobLog().info(
          { version: snapshot.version, durationMs },
          "delivery interrupted by shutdown; job returned to the queue",
        );
        report("returned", { durationMs, snapshot });
        return putBack(job, token, 0);
      }
      const described = describe(error);
      if (described.status !== undefined) span.setAttribute("http.response.status_code", described.status);
      span.setStatus({ code: SpanStatusCode.ERROR, message: described.message });
      const attempt: AttemptLogEntry = {
        attempt: job.attemptsMade + 1,
        at: now().toISOString(),
        outcome: outcomeOf(error),
        error: described.message,
        duration_ms: durationMs,
        ...(described.status !== undefined ? { status: described.status } : {}),
        ...(described.excerpt !== undefined ? { response_excerpt: described.excerpt } : {}),
      };
      await store.appendAttempt(data.key, destination, attempt);
      const fields = {
        version: snapshot.version,
        outcome: attempt.outcome,
        status: described.status,
        err: described.message,
        durationMs,
      };

      if (error instanceof DestinationError) {
        // The attempt log holds this delivery's attempts since its last success or dead letter.
        const parks = (await store.getAttempts(data.key, destination)).filter(
          (a) => a.outcome === "auth" || a.outcome === "destination",
        ).length;
        if (parks > maxParksPerDelivery) {
          jobLog().warn({ ...fields, parks, final: true }, "delivery attempt");
          report("dead_lettered", { durationMs, snapshot });
          return deadLetter(
            job,
            data.key,
            snapshot,
            "permanent",
            `parked the destination ${parks - 1} times and failed the same way after each resume: ${described.message}`,
            error,
            jobLog(),
          );
        }
        await parkDestination(
          queue,
          state,
          {
            reason: described.message,
            admin_hint: error.adminHint,
            by: "worker",
            cause: destinationCause(error),
            // A spent allocation with a known reset is not probed before it: the check would pass.
            ...(error instanceof QuotaExhaustedError && error.retryAfterMs !== undefined
              ? { resume_after: new Date(Date.now() + error.retryAfterMs).toISOString() }
              : {}),
          },
          jobLog(),
        );
        jobLog().warn(fields, "delivery attempt");
        report("parked", { durationMs, snapshot });
        return putBack(job, token, PARKED_RECHECK_MS);
      }

      if (error instanceof DeliveryError && error.status === 429) {
        const since = await state.rateLimitedSince(Date.now());
        if (Date.now() - since > parkAfterRateLimitedMs) {
          await parkDestination(
            queue,
            state,
            {
              reason: `rate limited (429) for more than ${Math.round(parkAfterRateLimitedMs / 1000)} s`,
              admin_hint: "Raise the CRM's API quota or lower this destination's rate_limit, then resume it.",
              by: "worker",
              cause: "quota",
            },
            jobLog(),
          );
          // Every attempt gets its line, this one too.
          jobLog().warn(fields, "delivery attempt");
          report("parked", { durationMs, snapshot });
          return putBack(job, token, PARKED_RECHECK_MS);
        }
        // Redis refuses a zero expiry, and "retry now" from a throttling CRM still deserves a pause.
        const waitMs = Math.max(
          error.retryAfterMs ?? computeBackoffMs(job.attemptsMade + 1, policy, random),
          100,
        );
        jobLog().warn({ ...fields, waitMs }, "delivery attempt");
        report("rate_limited", { durationMs, snapshot });
        // The whole destination waits; the job keeps its attempt count.
        await queue.deliver.rateLimit(waitMs);
        throw Worker.RateLimitError();
      }

      if (!isRetryable(error)) {
        const count = await state.countPermanentFailure(failureSignature(error));
        if (count >= parkAfterIdentical) {
          await parkDestination(
            queue,
            state,
            {
              reason: `the same permanent error on ${count} records in a row: ${described.message}`,
              admin_hint:
                "This looks like a configuration problem (mapping, required field, permissions) rather than bad data; fix it, then resume.",
              by: "worker",
              cause: "config",
            },
            jobLog(),
          );
          jobLog().warn(fields, "delivery attempt");
          report("parked", { durationMs, snapshot });
          return putBack(job, token, PARKED_RECHECK_MS);
        }
        jobLog().warn({ ...fields, final: true }, "delivery attempt");
        report("dead_lettered", { durationMs, snapshot });
        return deadLetter(job, data.key, snapshot, "permanent", described.message, error, jobLog());
      }

      const exhausted = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      jobLog().warn({ ...fields, final: exhausted }, "delivery attempt");
      if (exhausted) {
        report("dead_lettered", { durationMs, snapshot });
        return deadLetter(job, data.key, snapshot, "exhausted", described.message, error, jobLog());
      }
      report("retry", { durationMs, snapshot });
      throw error;
    }
  };

  const worker = new Worker(queue.deliver.name, process, {
    connection: settings.connection,
    prefix: queue.deliver.opts.prefix ?? "bull",
    concurrency: settings.concurrency,
    lockDuration: settings.lockDurationMs ?? 10_000,
    ...(settings.stalledIntervalMs !== undefined ? { stalledInterval: settings.stalledIntervalMs } : {}),
    maxStalledCount: settings.maxStalledCount ?? 2,
    // A limiter must be set for a 429 to rate-limit the queue; without a configured one it never binds.
    limiter: settings.rateLimit
      ? { max: settings.rateLimit.max, duration: settings.rateLimit.durationMs }
      : { ...DEFAULT_LIMITER },
    settings: {
      backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
        computeBackoffMs(
          attemptsMade,
          policy,
          random,
          error instanceof DeliveryError ? error.retryAfterMs : undefined,
        ),
    },
  });
  worker.on("error", (error) => log.error({ err: error, destination }, "worker error"));
  // BullMQ only reports a lock it could not renew (an event-loop stall, a long GC): the job may
  // already run elsewhere, so this delivery stops; the fence catches one that is past this point.
  worker.on("lockRenewalFailed", (jobIds) => {
    for (const jobId of jobIds) {
      if (worker.cancelJob(jobId, LOCK_LOST))
        log.warn({ jobId, destination }, "queue lock lost; delivery cancelled");
    }
  });
  return worker;
}
