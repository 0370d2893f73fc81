import { HandoffSyncError } from "@handoff-sync/schema";
import type { Redis } from "ioredis";

/**
 * Fewer replicas than required acknowledged this connection's writes within the timeout. The
 * writes are on the primary but would be lost if it failed now, so the record is not done: its
 * offset must not be resolved, and it is consumed again (the apply and the enqueue are idempotent).
 */
export class ReplicationWaitError extends HandoffSyncError {
  readonly retryable = true;
  readonly acknowledged: number;
  readonly required: number;

  static {
    this.prototype.name = "ReplicationWaitError";
  }

  constructor(acknowledged: number, required: number, timeoutMs: number) {
    super(
      `${acknowledged} of ${required} Redis replicas acknowledged the enqueue within ${timeoutMs} ms (WAIT)`,
    );
    this.acknowledged = acknowledged;
    this.required = required;
  }
}

export interface ReplicaWaitSettings {
  /** The connection the store and the queues write on: WAIT covers that client's writes only. */
  readonly redis: Redis;
  readonly replicas: number;
  readonly timeoutMs: number;
}

/**
 * Resolves once `replicas` replicas have acknowledged every write this connection made so far
 * (Redis `WAIT`), else throws `ReplicationWaitError`. With `replicas` 0 it resolves at once.
 */
export function createReplicaWait(settings: ReplicaWaitSettings): () => Promise<void> {
  const { redis, replicas, timeoutMs } = settings;
  if (replicas === 0) return () => Promise.resolve();
  return async () => {
    const acknowledged = await redis.wait(replicas, timeoutMs);
    if (acknowledged < replicas) throw new ReplicationWaitError(acknowledged, replicas, timeoutMs);
  };
}
