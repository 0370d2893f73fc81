import type { Worker } from "bullmq";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * Stops taking jobs and waits for active ones up to `timeoutMs`; then aborts the rest through
 * their AbortSignal so they return to the queue (unfinished, not failed) for another worker.
 */
export async function drainWorkers(
  workers: readonly Worker[],
  timeoutMs: number,
): Promise<"drained" | "cancelled"> {
  const closing = Promise.all(workers.map((worker) => worker.close()));
  const finished = await Promise.race([closing.then(() => true), sleep(timeoutMs).then(() => false)]);
  if (finished) return "drained";
  for (const worker of workers) worker.cancelAllJobs("shutting down");
  await Promise.race([closing, sleep(3000)]);
  return "cancelled";
}
