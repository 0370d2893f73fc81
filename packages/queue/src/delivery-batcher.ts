import type { BatchItemOutcome } from "@handoff-sync/schema";

export interface DeliveryBatcherSettings<Req, Res> {
  /** At most this many deliveries per request: the batch goes out as soon as it is full. */
  readonly maxSize: number;
  /** The first delivery of a batch waits at most this long for others before the batch goes out. */
  readonly maxWaitMs: number;
  /** Whether a delivery can share a request; the others go out alone through `single`. */
  readonly accepts: (request: Req) => boolean;
  /**
   * The handoff a delivery is for. A batch never carries two deliveries of one handoff: CRMs refuse
   * a batch naming one record twice, and the later one must not race the earlier inside a request.
   */
  readonly key: (request: Req) => string;
  readonly single: (request: Req) => Promise<Res>;
  /** Sends one request for all; one outcome per delivery, in order. */
  readonly sendBatch: (requests: readonly Req[]) => Promise<readonly BatchItemOutcome<Res>[]>;
  /** Called as each batch goes out, for metrics. */
  readonly onBatch?: (size: number) => void;
}

export interface DeliveryBatcher<Req, Res> {
  /**
   * Delivers one request, alone or in a batch, and settles with that request's own outcome. The
   * caller (a job's processor) handles it exactly as a single delivery's: BullMQ's lock, attempts,
   * backoff and dead letter stay per job.
   */
  submit(request: Req): Promise<Res>;
  /** Sends whatever waits now, without waiting for `maxWaitMs` (on shutdown). */
  flush(): void;
  /** Deliveries waiting for their batch to go out. */
  waiting(): number;
}

interface Waiting<Req, Res> {
  readonly request: Req;
  readonly key: string;
  readonly resolve: (value: Res) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Collects the deliveries that concurrent job processors submit for one destination into batches
 * of at most `maxSize`, sent when full or `maxWaitMs` after the first joined (decision 0050).
 */
export function createDeliveryBatcher<Req, Res>(
  settings: DeliveryBatcherSettings<Req, Res>,
): DeliveryBatcher<Req, Res> {
  let waiting: Waiting<Req, Res>[] = [];
  let timer: NodeJS.Timeout | undefined;

  const send = async (batch: readonly Waiting<Req, Res>[]): Promise<void> => {
    settings.onBatch?.(batch.length);
    let outcomes: readonly BatchItemOutcome<Res>[];
    try {
      outcomes = await settings.sendBatch(batch.map((item) => item.request));
    } catch (error) {
      // Nothing says which items were written: each one's job treats the failure as its own.
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined)
        item.reject(new Error(`batch answered ${outcomes.length} outcomes for ${batch.length} deliveries`));
      else if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  };

  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (waiting.length === 0) return;
    const batch = waiting;
    waiting = [];
    void send(batch);
  };

  const submit = (request: Req): Promise<Res> => {
    if (!settings.accepts(request)) return settings.single(request);
    const key = settings.key(request);
    if (waiting.some((item) => item.key === key)) flush();
    return new Promise<Res>((resolve, reject) => {
      waiting.push({ request, key, resolve, reject });
      if (waiting.length >= settings.maxSize) flush();
      else if (timer === undefined) timer = setTimeout(flush, settings.maxWaitMs);
    });
  };

  return { submit, flush, waiting: () => waiting.length };
}
