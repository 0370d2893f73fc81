import { deliveryDedupId, deliveryJobId, type BackoffPolicy, type DeliveryJob } from "@handoff-sync/schema";
import type { JobsOptions } from "bullmq";

export const DELIVERY_JOB_NAME = "deliver";

/**
 * One job id per (handoff, version) makes a redelivered Kafka record enqueue nothing new; the
 * deduplication id per handoff folds newer versions into the waiting job and never lets two
 * deliveries of one handoff to one destination run at once.
 */
export function deliveryJobOptions(job: DeliveryJob, policy: BackoffPolicy): JobsOptions {
  return {
    jobId: deliveryJobId(job.key, job.version),
    deduplication: { id: deliveryDedupId(job.key), keepLastIfActive: true },
    attempts: policy.attempts,
    backoff: { type: "handoff-sync" },
    // Completed jobs are kept an hour so a redelivered record finds its job id; the ledger
    // guards after that. Failed jobs are moved to the dead-letter queue before they fail.
    removeOnComplete: { age: 3600, count: 100_000 },
    removeOnFail: { age: 24 * 3600 },
  };
}
