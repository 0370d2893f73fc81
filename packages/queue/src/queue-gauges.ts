import { countDeadLetters } from "./dead-letters.js";
import type { DestinationQueue } from "./delivery-queues.js";

export interface QueueSnapshot {
  readonly destination: string;
  readonly counts: Readonly<Record<"waiting" | "active" | "delayed" | "prioritized" | "failed", number>>;
  readonly oldestWaitingAgeMs: number;
  readonly deadLetters: number;
  readonly parked: boolean;
  readonly paused: boolean;
}

/** What a destination's queues hold right now, for gauges and the admin overview. */
export async function inspectQueue(
  queue: DestinationQueue,
  nowMs: number = Date.now(),
): Promise<QueueSnapshot> {
  const [counts, oldest, deadLetters, park, paused] = await Promise.all([
    queue.deliver.getJobCounts("waiting", "active", "delayed", "prioritized", "failed"),
    queue.deliver.getJobs(["waiting", "prioritized"], 0, 0, true),
    countDeadLetters(queue.dead),
    queue.state.getPark(),
    queue.deliver.isPaused(),
  ]);
  const first = oldest[0];
  return {
    destination: queue.destination,
    counts: {
      waiting: counts.waiting ?? 0,
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      prioritized: counts.prioritized ?? 0,
      failed: counts.failed ?? 0,
    },
    oldestWaitingAgeMs: first ? Math.max(0, nowMs - first.timestamp) : 0,
    deadLetters,
    parked: park !== undefined,
    paused,
  };
}
