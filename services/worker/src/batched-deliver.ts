import type { Adapter } from "@handoff-sync/adapters";
import type { BatchSettings, RequestBudgetConfig } from "@handoff-sync/config";
import {
  createDeliveryBatcher,
  createRequestBudget,
  createRequestSlots,
  type DeliverFn,
  type RequestBudget,
} from "@handoff-sync/queue";

export interface DeliveryPath {
  readonly deliver: DeliverFn;
  /**
   * The worker's concurrency (jobs at once): `JOBS_PER_REQUEST_SLOT` per request slot for an
   * unbatched destination; a batch only fills with deliveries that run at once, so a batched
   * destination takes at least two batches' worth of jobs at a time (each waiting job holds its
   * own lock); see `BATCHES_IN_FLIGHT`.
   */
  readonly concurrency: number;
}

export interface DeliveryPathHooks {
  /** Called as each batch goes out, with its size, for metrics. */
  readonly onBatch?: (size: number) => void;
  /** Paces the destination's requests: each request (a batch counts once) waits for it. */
  readonly budget?: RequestBudget;
}

/**
 * Full batches a batched destination's worker can have at once. With room for only one, the jobs of
 * the next batch can start only after the previous batch was answered and its jobs completed, so
 * every batch paid the CRM's latency and the worker's own work for its jobs one after the other.
 * With two, the next batch fills while one is in flight (`pnpm bench` phase `crm`, HubSpot at
 * 150 ms, alternating runs: 404 and 369 handoffs/s with one, 587 and 595 with two).
 */
export const BATCHES_IN_FLIGHT = 2;

/**
 * Jobs an unbatched destination's worker runs per request slot (its `concurrency`). A job holds a
 * slot only while its adapter talks to the CRM: the round trips before (taking the fence, reading
 * the snapshot) and after (the ledger, BullMQ's completion and the next fetch) run beside other
 * jobs' requests instead of keeping the CRM's connections idle. With one job per slot a worker at
 * 1,000 handoffs/s queued its jobs for hundreds of milliseconds while each slot spent half its time
 * on Redis (docs/performance.md). The CRM still sees at most `concurrency` requests at once.
 */
export const JOBS_PER_REQUEST_SLOT = 2;

/** The destination's `budget` setting as the request budget takes it. */
export function requestBudgetOf(config: RequestBudgetConfig): RequestBudget {
  return createRequestBudget({
    headroom: config.headroom,
    ...(config.per_window === undefined
      ? {}
      : { window: { max: config.per_window.max, windowMs: config.per_window.window_ms } }),
    ...(config.per_day === undefined ? {} : { daily: config.per_day }),
  });
}

/**
 * How a destination's deliveries reach its adapter: one request each, or through a batcher when
 * the destination configures `batch` and its adapter can write many records per request; either
 * way paced by the request budget when there is one. This is the only place the delivery worker
 * meets batching and budgets: the worker's `deliver` keeps its shape, so each job keeps its lock,
 * attempts, backoff, dead letter and fence (decisions 0050, 0051).
 */
export function deliveryPath(
  adapter: Adapter,
  settings: { readonly concurrency: number; readonly batch?: BatchSettings | undefined },
  hooks: DeliveryPathHooks = {},
): DeliveryPath {
  const { budget } = hooks;
  const single: DeliverFn = async (request) => {
    const sent = await budget?.acquire(request.signal);
    try {
      return await adapter.deliver(request);
    } finally {
      sent?.answered();
    }
  };
  const batching = adapter.batch;
  const batch = settings.batch;
  if (batching === undefined || batch === undefined) {
    const slots = createRequestSlots(settings.concurrency);
    return {
      deliver: async (request) => {
        // A delivery aborted while it waits (shutdown, a lost lock) leaves without a slot; the
        // worker reads why from its signal.
        const release = await slots.acquire(request.signal);
        try {
          return await single(request);
        } finally {
          release();
        }
      },
      concurrency: JOBS_PER_REQUEST_SLOT * settings.concurrency,
    };
  }
  const batcher = createDeliveryBatcher({
    maxSize: batch.max_size,
    maxWaitMs: batch.max_wait_ms,
    accepts: (request: Parameters<DeliverFn>[0]) => batching.accepts(request),
    key: (request) => request.snapshot.key,
    single,
    sendBatch: async (requests) => {
      // A spent day throws here: every delivery of the batch parks the destination, none is sent.
      const sent = await budget?.acquire();
      try {
        return await batching.deliverBatch(requests);
      } finally {
        sent?.answered();
      }
    },
    ...(hooks.onBatch === undefined ? {} : { onBatch: hooks.onBatch }),
  });
  return {
    deliver: (request) => batcher.submit(request),
    concurrency: Math.max(settings.concurrency, BATCHES_IN_FLIGHT * batch.max_size),
  };
}
