import { HandoffSyncError } from "@handoff-sync/schema";
import { mastersOf, type RedisClient } from "@handoff-sync/store";

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
  readonly redis: RedisClient;
  readonly replicas: number;
  readonly timeoutMs: number;
}

/**
 * Resolves once `replicas` replicas have acknowledged every write this connection made so far
 * (Redis `WAIT`), else throws `ReplicationWaitError`. With `replicas` 0 it resolves at once. On a
 * Redis Cluster the writes went to several masters over one connection each, so WAIT goes to every
 * master and the fewest acknowledgements count (a master this process never wrote to answers at once).
 */
export function createReplicaWait(settings: ReplicaWaitSettings): () => Promise<void> {
  const { redis, replicas, timeoutMs } = settings;
  if (replicas === 0) return () => Promise.resolve();
  return async () => {
    const masters = mastersOf(redis);
    const acknowledged = Math.min(
      ...(await Promise.all(masters.map((node) => node.wait(replicas, timeoutMs)))),
    );
    if (masters.length === 0 || acknowledged < replicas)
      throw new ReplicationWaitError(masters.length === 0 ? 0 : acknowledged, replicas, timeoutMs);
  };
}
