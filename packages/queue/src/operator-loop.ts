import type { Logger } from "@handoff-sync/telemetry";
import { z } from "zod";
import type { DestinationQueue } from "./delivery-queues.js";
import { ParkCauseSchema, type ParkCause } from "./destination-state.js";
import { resumeDestination } from "./park.js";
import type { BudgetSnapshot } from "./request-budget.js";

/**
 * What the CRM admin's channel hears: the body of an operational webhook (Standard Webhooks:
 * `type`, `timestamp`, `data`) and the fields of its log line.
 */
export const OperatorNoticeSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("destination.parked"),
    timestamp: z.string(),
    data: z.object({
      destination: z.string(),
      cause: ParkCauseSchema,
      reason: z.string(),
      admin_hint: z.string(),
      parked_at: z.string(),
      by: z.string(),
      /** Whether the worker will probe it and resume it by itself once the cause is gone. */
      auto_resume: z.boolean(),
      /** Not probed before then: the reset of a spent daily allocation. */
      resume_after: z.string().optional(),
    }),
  }),
  z.object({
    type: z.literal("destination.resumed"),
    timestamp: z.string(),
    data: z.object({
      destination: z.string(),
      /** `probe` when the worker resumed it by itself, else the operator's API key name. */
      by: z.string(),
      resumed_at: z.string(),
      parked_at: z.string(),
      reason: z.string(),
    }),
  }),
  z.object({
    type: z.literal("destination.dead_lettering"),
    timestamp: z.string(),
    data: z.object({
      destination: z.string(),
      dead_letters: z.number().int(),
      window_ms: z.number().int(),
    }),
  }),
  z.object({
    type: z.literal("destination.quota_near"),
    timestamp: z.string(),
    data: z.object({
      destination: z.string(),
      /**
       * `day` or `window`: the request budget (the CRM's own usage headers where it sends them) has
       * used `share` of that limit; `rate_limited`: the CRM has answered 429 since `rate_limited_since`.
       */
      limit: z.enum(["day", "window", "rate_limited"]),
      used: z.number().int().optional(),
      max: z.number().int().optional(),
      rate_limited_since: z.string().optional(),
    }),
  }),
]);
export type OperatorNotice = z.infer<typeof OperatorNoticeSchema>;

export interface OperatorLoopSettings {
  readonly probeIntervalMs: number;
  readonly autoResume: Readonly<Record<Exclude<ParkCause, "operator">, boolean>>;
  readonly deadLetterThreshold: { readonly count: number; readonly windowMs: number };
  readonly quotaWarningAfterMs: number;
  /** The share of a daily or window request limit whose use sends a notice (0.8: at 80 %). */
  readonly quotaWarningShare: number;
}

/** Whether a park of this cause is probed and resumed by itself. An operator's pause never is. */
export function resumesByItself(cause: ParkCause | undefined, settings: OperatorLoopSettings): boolean {
  // A record from before causes were kept names none: treated as a config error, left to a person.
  const known = cause ?? "config";
  return known !== "operator" && settings.autoResume[known];
}

export interface AuditStep {
  readonly action: string;
  readonly target: string;
  readonly outcome: "ok" | "failed";
  readonly details: Record<string, unknown>;
}

export interface OperatorLoopDeps {
  readonly queues: () => readonly DestinationQueue[];
  /** The adapter's own authentication check (`Adapter.check`); undefined when it has none. */
  readonly check: (destination: string) => (() => Promise<void>) | undefined;
  /** Sends one notice (the operational webhook); the id is stable, receivers may deduplicate by it. */
  readonly send?: (id: string, notice: OperatorNotice) => Promise<void>;
  /** Records a step in the admin audit stream, as actor `probe`. */
  readonly audit: (step: AuditStep) => Promise<void>;
  /** The destination's request usage as this worker knows it (its budget, corrected by the CRM's headers). */
  readonly usage?: (destination: string) => BudgetSnapshot | undefined;
  readonly log: Logger;
  readonly settings: OperatorLoopSettings;
  readonly now?: () => number;
}

export interface OperatorLoop {
  /** One look at every destination: notices, and probes of parked destinations that are due. */
  tick(): Promise<void>;
  /** Called for every dead letter; notices once per window when the threshold is reached. */
  deadLettered(queue: DestinationQueue): Promise<void>;
}

const PARKED_REMINDER_MS = 24 * 3_600_000;
const ONCE_MS = 7 * 24 * 3_600_000;
/** A resume older than this when first seen (a restart long after it) is not announced. */
const RESUME_NEWS_MS = 15 * 60_000;
const DAY_MS = 86_400_000;
/** A window limit that stays near its top is announced at most once an hour. */
const WINDOW_NOTICE_MS = 3_600_000;

/**
 * The operator loop (decision 0031): every notice is claimed once across worker pods (by a stable
 * id in Redis), logged and sent; a parked destination whose cause may heal is probed with the
 * adapter's own check and resumed by itself once the check passes; each probe and resume is audited.
 */
export function createOperatorLoop(deps: OperatorLoopDeps): OperatorLoop {
  const now = deps.now ?? Date.now;
  const log = deps.log.child({ component: "operator-loop" });
  const { settings } = deps;

  const notify = async (
    queue: DestinationQueue,
    id: string,
    ttlMs: number,
    notice: OperatorNotice,
  ): Promise<void> => {
    if (!(await queue.state.claimNotice(id, ttlMs))) return;
    const level = notice.type === "destination.resumed" ? "info" : "warn";
    log[level]({ notice: notice.type, ...notice.data }, "operator notice");
    if (deps.send === undefined) return;
    try {
      await deps.send(id, notice);
    } catch (error) {
      // Given back, so the next look sends it again.
      await queue.state.releaseNotice(id);
      log.warn(
        {
          notice: notice.type,
          destination: queue.destination,
          error: error instanceof Error ? error.message : String(error),
        },
        "operational webhook failed; retried on the next look",
      );
    }
  };

  const probe = async (queue: DestinationQueue, cause: ParkCause, parkedAt: string): Promise<void> => {
    const check = deps.check(queue.destination);
    // One pod probes per interval: checks are cheap, but audit entries should not multiply.
    const slot = Math.floor(now() / settings.probeIntervalMs);
    if (!(await queue.state.claimNotice(`probe-${slot}`, settings.probeIntervalMs * 2))) return;
    if (now() - Date.parse(parkedAt) < settings.probeIntervalMs) return;
    let failure: string | undefined;
    try {
      if (check === undefined) failure = "the adapter has no check";
      else await check();
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    if (failure !== undefined) {
      log.info(
        { destination: queue.destination, cause, error: failure },
        "probe of parked destination failed; it stays parked",
      );
      await deps.audit({
        action: "destination.probe",
        target: queue.destination,
        outcome: "failed",
        details: { cause, parked_at: parkedAt, error: failure },
      });
      return;
    }
    // An operator may have resumed (or re-parked) it while the check ran.
    const current = await queue.state.getPark();
    if (current?.parked_at !== parkedAt) return;
    await deps.audit({
      action: "destination.probe",
      target: queue.destination,
      outcome: "ok",
      details: { cause, parked_at: parkedAt },
    });
    await resumeDestination(queue, queue.state, log, "probe", new Date(now()));
    await deps.audit({
      action: "destination.resume",
      target: queue.destination,
      outcome: "ok",
      details: { cause, parked_at: parkedAt, reason: current.reason },
    });
  };

  const look = async (queue: DestinationQueue): Promise<void> => {
    const { state, destination } = queue;
    const park = await state.getPark();
    if (park !== undefined) {
      const cause = park.cause ?? "config";
      const auto = resumesByItself(park.cause, settings);
      // Claimed for a day: a destination still parked then is announced again, as a reminder.
      await notify(queue, `parked-${park.parked_at}`, PARKED_REMINDER_MS, {
        type: "destination.parked",
        timestamp: new Date(now()).toISOString(),
        data: {
          destination,
          cause,
          reason: park.reason,
          admin_hint: park.admin_hint,
          parked_at: park.parked_at,
          by: park.by,
          auto_resume: auto,
          ...(park.resume_after === undefined ? {} : { resume_after: park.resume_after }),
        },
      });
      const due = park.resume_after === undefined || now() >= Date.parse(park.resume_after);
      if (auto && due) await probe(queue, cause, park.parked_at);
    }
    const resumed = await state.getResumed();
    if (
      resumed !== undefined &&
      (await state.getPark()) === undefined &&
      now() - Date.parse(resumed.at) < RESUME_NEWS_MS
    ) {
      await notify(queue, `resumed-${resumed.parked_at}`, ONCE_MS, {
        type: "destination.resumed",
        timestamp: new Date(now()).toISOString(),
        data: {
          destination,
          by: resumed.by,
          resumed_at: resumed.at,
          parked_at: resumed.parked_at,
          reason: resumed.reason,
        },
      });
    }
    await quota(queue);
  };

  /** Near a request limit (the budget's own count) or past it (a streak of 429s), once per period. */
  const quota = async (queue: DestinationQueue): Promise<void> => {
    const { destination } = queue;
    const at = now();
    const timestamp = new Date(at).toISOString();
    const usage = deps.usage?.(destination);
    const near = (used: number, max: number | undefined): max is number =>
      max !== undefined && max > 0 && used >= max * settings.quotaWarningShare;
    if (usage !== undefined && near(usage.dailyUsed, usage.dailyLimit)) {
      const day = Math.floor(at / DAY_MS);
      await notify(queue, `quota-day-${day}`, 2 * DAY_MS, {
        type: "destination.quota_near",
        timestamp,
        data: { destination, limit: "day", used: usage.dailyUsed, max: usage.dailyLimit },
      });
    }
    if (usage !== undefined && near(usage.windowUsed, usage.windowLimit)) {
      const slot = Math.floor(at / WINDOW_NOTICE_MS);
      await notify(queue, `quota-window-${slot}`, 2 * WINDOW_NOTICE_MS, {
        type: "destination.quota_near",
        timestamp,
        data: { destination, limit: "window", used: usage.windowUsed, max: usage.windowLimit },
      });
    }
    const since = await queue.state.rateLimitStreak();
    if (since !== undefined && at - since >= settings.quotaWarningAfterMs) {
      await notify(queue, `quota-${since}`, ONCE_MS, {
        type: "destination.quota_near",
        timestamp,
        data: { destination, limit: "rate_limited", rate_limited_since: new Date(since).toISOString() },
      });
    }
  };

  return {
    async tick() {
      for (const queue of deps.queues()) {
        try {
          await look(queue);
        } catch (error) {
          log.error({ destination: queue.destination, err: error }, "operator loop failed for a destination");
        }
      }
    },
    async deadLettered(queue) {
      const { count, windowMs } = settings.deadLetterThreshold;
      const at = now();
      const inWindow = await queue.state.countDeadLetter(windowMs, at);
      if (inWindow < count) return;
      await notify(queue, `dead-${Math.floor(at / windowMs)}`, windowMs * 2, {
        type: "destination.dead_lettering",
        timestamp: new Date(at).toISOString(),
        data: { destination: queue.destination, dead_letters: inWindow, window_ms: windowMs },
      });
    },
  };
}
