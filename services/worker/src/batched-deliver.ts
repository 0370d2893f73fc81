import type { Adapter } from "@handoff-sync/adapters";
import type { BatchSettings } from "@handoff-sync/config";
import { createDeliveryBatcher, type DeliverFn } from "@handoff-sync/queue";

export interface DeliveryPath {
  readonly deliver: DeliverFn;
  /**
   * The worker's concurrency: a batch only fills with deliveries that run at once, so a batched
   * destination takes at least `max_size` jobs at a time (each waiting job holds its own lock).
   */
  readonly concurrency: number;
}

/**
 * How a destination's deliveries reach its adapter: one request each, or through a batcher when
 * the destination configures `batch` and its adapter can write many records per request. This is
 * the only place the delivery worker and batching meet: the worker's `deliver` is unchanged in
 * shape, so each job keeps its lock, attempts, backoff, dead letter and fence (decision 0050).
 */
export function deliveryPath(
  adapter: Adapter,
  settings: { readonly concurrency: number; readonly batch?: BatchSettings | undefined },
  onBatch?: (size: number) => void,
): DeliveryPath {
  const batching = adapter.batch;
  const batch = settings.batch;
  if (batching === undefined || batch === undefined)
    return { deliver: (request) => adapter.deliver(request), concurrency: settings.concurrency };
  const batcher = createDeliveryBatcher({
    maxSize: batch.max_size,
    maxWaitMs: batch.max_wait_ms,
    accepts: (request: Parameters<DeliverFn>[0]) => batching.accepts(request),
    key: (request) => request.snapshot.key,
    single: (request) => adapter.deliver(request),
    sendBatch: (requests) => batching.deliverBatch(requests),
    ...(onBatch === undefined ? {} : { onBatch }),
  });
  return {
    deliver: (request) => batcher.submit(request),
    concurrency: Math.max(settings.concurrency, batch.max_size),
  };
}
