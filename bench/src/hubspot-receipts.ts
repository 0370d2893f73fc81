import type { AppliedWrite } from "@handoff-sync/testing";
import type { EventSource } from "./events.js";

/**
 * When each handoff reached the HubSpot fake: the first write of its key in the fake's write log
 * (the fake applies and logs a write on arrival, before its latency). Polled, since the fake runs
 * in this process and the log is an in-memory array.
 */
export interface ReceiptLog {
  /** Reads the writes logged since the last call. */
  poll(): void;
  /** Distinct handoffs received since the last reset. */
  received(): number;
  /** Writes since the last reset, repeats of a handoff included. */
  writes(): number;
  /** Receipt times (ms since the epoch), one per distinct handoff. */
  arrivals(): number[];
  firstArrivalMs(): number | undefined;
  /** Milliseconds from each handoff's `occurred_at` to its receipt. */
  latencies(): number[];
  /** Forgets what was received so far; later writes count from here. */
  reset(): void;
}

/** Wraps an event source so the bench knows each handoff's `occurred_at` by its key. */
export function recordingSource(source: EventSource, occurredAt: Map<string, number>): EventSource {
  return {
    next() {
      const event = source.next();
      const parsed = JSON.parse(event.value) as { occurred_at?: unknown };
      if (typeof parsed.occurred_at === "string") occurredAt.set(event.key, Date.parse(parsed.occurred_at));
      return event;
    },
  };
}

export function receiptLog(
  writeLog: { all(): readonly AppliedWrite[] },
  occurredAt: ReadonlyMap<string, number>,
): ReceiptLog {
  let cursor = 0;
  let first = new Map<string, number>();
  let writes = 0;
  const poll = (): void => {
    const all = writeLog.all();
    for (; cursor < all.length; cursor++) {
      const write = all[cursor];
      if (write?.externalId === undefined) continue;
      writes++;
      if (!first.has(write.externalId)) first.set(write.externalId, Date.parse(write.at));
    }
  };
  return {
    poll,
    received: () => first.size,
    writes: () => writes,
    arrivals: () => [...first.values()],
    firstArrivalMs: () => (first.size === 0 ? undefined : Math.min(...first.values())),
    latencies: () =>
      [...first.entries()].flatMap(([key, at]) => {
        const occurred = occurredAt.get(key);
        return occurred === undefined ? [] : [at - occurred];
      }),
    reset: () => {
      poll();
      first = new Map();
      writes = 0;
    },
  };
}
