import { randomUUID } from "node:crypto";
import type { FakeResponse } from "../fake-server.js";

export interface HubSpotRateLimits {
  /** Requests per rolling ten seconds (HubSpot: 100 to 190 for private apps, by plan). */
  readonly tenSecondly: number;
  /** Requests per day, reset at midnight (the fake uses UTC midnight). */
  readonly daily: number;
}

const WINDOW_MS = 10_000;
const DAY_MS = 86_400_000;

/** HubSpot's two request budgets, with the headers it sends on every answer. */
export class HubSpotRateLimiter {
  private recent: number[] = [];
  private day = -1;
  private usedToday = 0;
  private refusals = 0;

  constructor(
    private readonly limits: HubSpotRateLimits,
    private readonly now: () => number,
    private readonly sendRetryAfter: boolean,
  ) {}

  /** Counts one request: undefined when allowed, else the 429 to answer. */
  take(): FakeResponse | undefined {
    const now = this.now();
    const day = Math.floor(now / DAY_MS);
    if (day !== this.day) {
      this.day = day;
      this.usedToday = 0;
    }
    this.recent = this.recent.filter((at) => at > now - WINDOW_MS);
    if (this.usedToday >= this.limits.daily) return this.limited("DAILY", "daily", undefined);
    if (this.recent.length >= this.limits.tenSecondly) {
      const oldest = this.recent[0] ?? now;
      const waitSec = Math.max(1, Math.ceil((oldest + WINDOW_MS - now) / 1_000));
      return this.limited(
        "TEN_SECONDLY_ROLLING",
        "ten_secondly_rolling",
        this.sendRetryAfter ? waitSec : undefined,
      );
    }
    this.recent.push(now);
    this.usedToday++;
    return undefined;
  }

  /** 429s answered so far, ten-secondly and daily together. */
  refused(): number {
    return this.refusals;
  }

  headers(): Record<string, string> {
    const remaining = Math.max(0, this.limits.tenSecondly - this.recent.length);
    return {
      "x-hubspot-ratelimit-daily": String(this.limits.daily),
      "x-hubspot-ratelimit-daily-remaining": String(Math.max(0, this.limits.daily - this.usedToday)),
      "x-hubspot-ratelimit-interval-milliseconds": String(WINDOW_MS),
      "x-hubspot-ratelimit-max": String(this.limits.tenSecondly),
      "x-hubspot-ratelimit-remaining": String(remaining),
      "x-hubspot-ratelimit-secondly": String(Math.ceil(this.limits.tenSecondly / 10)),
      "x-hubspot-ratelimit-secondly-remaining": String(Math.ceil(remaining / 10)),
    };
  }

  private limited(policyName: string, label: string, retryAfterSec: number | undefined): FakeResponse {
    this.refusals++;
    return {
      status: 429,
      headers: {
        ...this.headers(),
        ...(retryAfterSec === undefined ? {} : { "retry-after": String(retryAfterSec) }),
      },
      body: {
        status: "error",
        message: `You have reached your ${label} limit.`,
        errorType: "RATE_LIMIT",
        correlationId: randomUUID(),
        policyName,
        groupName: "api-calls",
      },
    };
  }
}
