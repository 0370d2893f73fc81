/**
 * Faults a fake CRM can play, chosen per request. They are what real CRMs do at their worst, so
 * adapters and the delivery guarantees can be tested against them.
 */
export type Fault =
  /** Answer with this status and body without applying the request. */
  | {
      readonly kind: "status";
      readonly status: number;
      readonly body?: string;
      readonly contentType?: string;
      readonly headers?: Readonly<Record<string, string>>;
    }
  /** Apply the request, then answer with this status: the client cannot know the write happened. */
  | { readonly kind: "after_commit"; readonly status: number; readonly body?: string }
  /** Apply and answer normally, but only after this delay (slower than a client timeout, say). */
  | { readonly kind: "delay"; readonly ms: number }
  /**
   * Apply the request at once, then answer only after this delay: a write that committed and then
   * timed out at the client (a batch that took longer than the adapter's timeout to answer).
   */
  | { readonly kind: "delay_after_commit"; readonly ms: number }
  /** Apply the request, then drop the connection without answering. */
  | { readonly kind: "drop_after_commit" }
  /** Keep the request unanswered until `release()`; it is then applied and answered normally. */
  | { readonly kind: "hold" };

export interface FaultRule {
  /** Which requests this applies to; all when omitted. */
  readonly match?: (request: { method: string; path: string }) => boolean;
  readonly fault: Fault;
  /** How many requests it applies to; it then retires. Unlimited when omitted. */
  times?: number;
  /** Applies to each matching request with this probability (needs `random`). 1 when omitted. */
  readonly probability?: number;
}

export interface HeldRequest {
  readonly method: string;
  readonly path: string;
  /** Lets the request proceed: it is applied and answered. */
  release(): void;
}

export class FaultInjector {
  private readonly rules: FaultRule[] = [];
  private readonly held: HeldRequest[] = [];
  private readonly heldListeners: ((held: HeldRequest) => void)[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  /** Adds a rule; rules are checked in the order they were added. */
  add(rule: FaultRule): this {
    this.rules.push({ ...rule });
    return this;
  }

  /** Adds a rule checked before every other, e.g. to hold the next write whatever else is set. */
  prepend(rule: FaultRule): this {
    this.rules.unshift({ ...rule });
    return this;
  }

  /** The next `times` matching requests get this fault. */
  next(fault: Fault, times = 1, match?: FaultRule["match"]): this {
    return this.add({ fault, times, ...(match ? { match } : {}) });
  }

  clear(): void {
    this.rules.length = 0;
  }

  pick(request: { method: string; path: string }): Fault | undefined {
    for (const rule of this.rules) {
      if (rule.times !== undefined && rule.times <= 0) continue;
      if (rule.match && !rule.match(request)) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      if (rule.times !== undefined) rule.times--;
      return rule.fault;
    }
    return undefined;
  }

  /** Called by the fake for a `hold` fault; resolves when released. */
  hold(request: { method: string; path: string }): Promise<void> {
    return new Promise((resolve) => {
      const held: HeldRequest = {
        ...request,
        release: () => {
          const index = this.held.indexOf(held);
          if (index >= 0) this.held.splice(index, 1);
          resolve();
        },
      };
      this.held.push(held);
      for (const listener of this.heldListeners.splice(0)) listener(held);
    });
  }

  /** Requests being held right now. */
  heldRequests(): readonly HeldRequest[] {
    return [...this.held];
  }

  /** Resolves with the next request that gets held (or one held already). */
  waitForHeld(): Promise<HeldRequest> {
    const first = this.held[0];
    if (first) return Promise.resolve(first);
    return new Promise((resolve) => this.heldListeners.push(resolve));
  }

  releaseAll(): void {
    for (const held of [...this.held]) held.release();
  }
}
