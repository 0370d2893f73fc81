import { QuotaExhaustedError, type ApiUsage } from "@handoff-sync/schema";

export interface RequestBudgetSettings {
  /** At most `max` requests per `windowMs`, across this worker's deliveries. */
  readonly window?: { readonly max: number; readonly windowMs: number };
  /** Requests per day (reset at UTC midnight); the CRM's own figure replaces it once it reports one. */
  readonly daily?: number;
  /**
   * The share of each window kept unused, so requests slow down before the CRM's limit rather than
   * at it (other clients of the same account, clock skew). Default 0.1.
   */
  readonly headroom?: number;
  readonly now?: () => number;
}

export interface BudgetSnapshot {
  readonly windowUsed: number;
  readonly windowLimit?: number;
  readonly dailyUsed: number;
  readonly dailyLimit?: number;
}

/** A request the budget let go. */
export interface BudgetedRequest {
  /**
   * The request was answered (or given up on): its place in the window counts from now. The CRM
   * counted it when it arrived, somewhere between the send and the answer, so counting from the
   * send would free its place before the CRM does.
   */
  answered(): void;
}

export interface RequestBudget {
  /** Counts one request when it may go now: 0. Otherwise how long to wait; throws once the day is spent. */
  take(): number;
  /** Waits until a request may go, then counts it; tell the result when the request was answered. */
  acquire(signal?: AbortSignal): Promise<BudgetedRequest>;
  /** Takes the CRM's own count, which includes other clients of the same account. */
  observe(usage: ApiUsage): void;
  snapshot(): BudgetSnapshot;
}

const DAY_MS = 86_400_000;

/**
 * A spent daily allocation: destination-wide, so the worker parks the destination (with this
 * reason) instead of spending each delivery's attempts on requests the CRM would refuse.
 */
export class DailyBudgetSpentError extends QuotaExhaustedError {
  static {
    this.prototype.name = "DailyBudgetSpentError";
  }
}

/**
 * A destination's request budget (decision 0051): a sliding window and a daily count, both
 * corrected by the usage the CRM reports. Pure apart from the clock, so it is unit-tested.
 */
export function createRequestBudget(settings: RequestBudgetSettings): RequestBudget {
  const now = settings.now ?? Date.now;
  const headroom = settings.headroom ?? 0.1;
  let windowMax = settings.window?.max;
  const windowMs = settings.window?.windowMs ?? 10_000;
  let dailyMax = settings.daily;
  /** When each request in the window was sent, or answered once it was; oldest first. */
  let sent: { at: number }[] = [];
  let day = Math.floor(now() / DAY_MS);
  let dailyUsed = 0;

  const usable = (max: number): number => Math.max(1, Math.floor(max * (1 - headroom)));
  const prune = (at: number): void => {
    while (sent.length > 0 && (sent[0]?.at ?? 0) <= at - windowMs) sent.shift();
    const today = Math.floor(at / DAY_MS);
    if (today !== day) {
      day = today;
      dailyUsed = 0;
    }
  };

  /** Counts one request when it may go now; otherwise how long to wait. */
  function tryTake(): { readonly entry: { at: number } } | { readonly waitMs: number } {
    const at = now();
    prune(at);
    if (dailyMax !== undefined && dailyUsed >= dailyMax) {
      const resetAt = (day + 1) * DAY_MS;
      throw new DailyBudgetSpentError(
        `daily API budget spent (${dailyUsed}/${dailyMax} requests); it resets at ${new Date(resetAt).toISOString()}`,
        {
          retryAfterMs: resetAt - at,
          adminHint: `The CRM account's daily request allocation is used up. Resume the destination after ${new Date(resetAt).toISOString()}, or sooner after raising the allocation (or budget.daily).`,
        },
      );
    }
    if (windowMax !== undefined && sent.length >= usable(windowMax)) {
      const oldest = sent[sent.length - usable(windowMax)]?.at ?? at;
      return { waitMs: Math.max(1, oldest + windowMs - at) };
    }
    const entry = { at };
    sent.push(entry);
    dailyUsed++;
    return { entry };
  }

  function take(): number {
    const taken = tryTake();
    return "waitMs" in taken ? taken.waitMs : 0;
  }

  /**
   * Moves a request's place in the window to now. One slower than the window had left it already;
   * it counts again, since the CRM may have received it only just now.
   */
  function answeredAt(entry: { at: number }): void {
    const at = now();
    sent = sent.filter((other) => other !== entry);
    entry.at = at;
    const after = sent.findIndex((other) => other.at > at);
    sent.splice(after === -1 ? sent.length : after, 0, entry);
  }

  async function acquire(signal?: AbortSignal): Promise<BudgetedRequest> {
    for (;;) {
      const taken = tryTake();
      if ("entry" in taken) {
        let done = false;
        return {
          answered: () => {
            if (done) return;
            done = true;
            answeredAt(taken.entry);
          },
        };
      }
      const { waitMs } = taken;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        signal?.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
      signal?.throwIfAborted();
    }
  }

  function observe(usage: ApiUsage): void {
    const at = now();
    prune(at);
    if (usage.window !== undefined) {
      windowMax = usage.window.max;
      // Requests the CRM counted that this worker did not send (other workers, other apps).
      const theirs = usage.window.max - usage.window.remaining - sent.length;
      for (let i = 0; i < theirs; i++) sent.push({ at });
      sent.sort((a, b) => a.at - b.at);
    }
    if (usage.daily !== undefined) {
      dailyMax = usage.daily.max;
      dailyUsed = Math.max(dailyUsed, usage.daily.used);
    }
  }

  return {
    take,
    acquire,
    observe,
    snapshot: () => {
      prune(now());
      return {
        windowUsed: sent.length,
        ...(windowMax === undefined ? {} : { windowLimit: windowMax }),
        dailyUsed,
        ...(dailyMax === undefined ? {} : { dailyLimit: dailyMax }),
      };
    },
  };
}
