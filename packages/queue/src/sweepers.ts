import { parseDeliveryJob } from "@handoff-sync/schema";
import type { HandoffStore } from "@handoff-sync/store";
import type { Logger } from "@handoff-sync/telemetry";
import { addDeadLetter, listDeadLetters, removeDeadLetter } from "./dead-letters.js";
import type { DestinationQueue } from "./delivery-queues.js";

const STALLED = /stalled/i;

/**
 * BullMQ fails a job that stalled more than maxStalledCount times by itself, without running the
 * processor, so its dead-lettering code never runs. This moves such jobs into the dead-letter
 * queue (reason `stalled`), then removes the failed job. Safe to run from several workers: entry
 * ids are deterministic.
 */
export async function sweepStalledJobs(
  queue: DestinationQueue,
  store: HandoffStore,
  log: Logger,
  now: () => Date = () => new Date(),
): Promise<number> {
  let swept = 0;
  const failed = await queue.deliver.getFailed(0, 999);
  for (const job of failed) {
    if (!STALLED.test(job.failedReason)) continue;
    const parsed = parseDeliveryJob(job.data);
    if (!parsed.ok) continue;
    const snapshot = await store.get(parsed.job.key);
    const attempts = await store.getAttempts(parsed.job.key, queue.destination);
    await addDeadLetter(queue.dead, {
      key: parsed.job.key,
      destination: queue.destination,
      version: snapshot?.version ?? parsed.job.version,
      reason: "stalled",
      error: job.failedReason,
      attempts,
      ...(attempts[0] ? { first_attempt_at: attempts[0].at } : {}),
      dead_lettered_at: now().toISOString(),
    });
    await store.clearAttempts(parsed.job.key, queue.destination);
    await job.remove();
    swept++;
    log.error(
      { destination: queue.destination, handoffKey: parsed.job.key, jobId: job.id },
      "stalled job dead-lettered",
    );
  }
  return swept;
}

/**
 * Explicit dead-letter retention: removes entries dead-lettered longer ago than `retentionMs` and
 * counts them in the destination's state, so nothing disappears without a trace.
 */
export async function pruneDeadLetters(
  queue: DestinationQueue,
  retentionMs: number,
  log: Logger,
  now: () => Date = () => new Date(),
): Promise<number> {
  const until = new Date(now().getTime() - retentionMs).toISOString();
  const { entries } = await listDeadLetters(queue.dead, { until }, { limit: 10_000 });
  let pruned = 0;
  for (const entry of entries) if (await removeDeadLetter(queue.dead, entry.id)) pruned++;
  if (pruned > 0) {
    await queue.state.countPruned(pruned);
    log.warn({ destination: queue.destination, pruned, retentionMs }, "dead letters removed by retention");
  }
  return pruned;
}
