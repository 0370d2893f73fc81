import type { LatencySummary } from "./stats.js";
import type { Target } from "./target.js";

/** A drain's rate, from the moments its handoffs reached the CRM. */
export interface DrainRate {
  /** Handoffs counted: all of them when the backlog drained within the span, else those inside it. */
  readonly events: number;
  readonly durationMs: number;
  readonly rate: number;
  /** Whether every handoff of the backlog arrived within the span. */
  readonly drained: boolean;
}

/**
 * Handoffs per second of a drain. A backlog that arrived within `spanMs` of its first receipt is
 * first to last, like the pipeline's drain. One that did not (a rate-limited destination) is the
 * handoffs received in the `spanMs` after the first, over `spanMs`: with a span of whole
 * rate-limit windows, each window's burst counts once, so the figure is the sustained rate rather
 * than the first window's burst spread over a short drain.
 */
export function drainRate(arrivalsMs: readonly number[], backlog: number, spanMs: number): DrainRate {
  if (arrivalsMs.length === 0) return { events: 0, durationMs: 0, rate: 0, drained: backlog === 0 };
  const first = Math.min(...arrivalsMs);
  const last = Math.max(...arrivalsMs);
  if (arrivalsMs.length >= backlog && last - first <= spanMs) {
    const durationMs = last - first;
    return {
      events: arrivalsMs.length,
      durationMs,
      rate: durationMs > 0 ? arrivalsMs.length / (durationMs / 1000) : Number.POSITIVE_INFINITY,
      drained: true,
    };
  }
  const inside = arrivalsMs.filter((at) => at < first + spanMs).length;
  return { events: inside, durationMs: spanMs, rate: inside / (spanMs / 1000), drained: false };
}

export interface CrmTargetInput {
  readonly unbatchedRate: number;
  readonly batchedRate: number;
  /** 429s the CRM answered over both drains and the open loop. */
  readonly rateLimited: number;
  readonly openLoop: {
    readonly offeredRate: number;
    readonly valid: boolean;
    readonly latencyMs: Pick<LatencySummary, "p99">;
  };
}

/**
 * Issue 11's targets for delivery to a rate-limited HubSpot: batching multiplies what one request
 * budget delivers by at least 50, the budget keeps every request under HubSpot's limit, and a
 * batch's wait still leaves a handoff on the agent's screen within a second at 50 a second.
 */
export function crmTargets(input: CrmTargetInput): Target[] {
  const status = (met: boolean): Target["status"] => (met ? "met" : "not met");
  const ratio = input.unbatchedRate > 0 ? input.batchedRate / input.unbatchedRate : Number.NaN;
  const p99 = input.openLoop.latencyMs.p99;
  return [
    {
      name: "HubSpot handoffs/s, batched / unbatched",
      goal: ">= 50",
      value: ratio,
      status: Number.isFinite(ratio) ? status(ratio >= 50) : "invalid",
    },
    {
      name: "HubSpot 429 answers, drains and open loop",
      goal: "= 0",
      value: input.rateLimited,
      status: status(input.rateLimited === 0),
    },
    {
      name: `p99 to HubSpot at ${input.openLoop.offeredRate} handoffs/s, batched (ms)`,
      goal: "<= 1000",
      value: p99,
      status: input.openLoop.valid && Number.isFinite(p99) ? status(p99 <= 1000) : "invalid",
    },
  ];
}
