import type { BatchItemOutcome, HandoffSnapshot } from "@handoff-sync/schema";
import type { SendGuard } from "./http/send-guard.js";

export interface DeliveryRequest {
  readonly snapshot: HandoffSnapshot;
  /** The destination's name in the config file; part of idempotency keys. */
  readonly destination: string;
  /**
   * What the ledger says this destination already has: the version and the CRM's record id, so
   * later states update that record instead of creating one. Absent before the first delivery.
   */
  readonly previous?: { readonly version: number; readonly recordId?: string };
  /** Aborted on shutdown; the attempt then fails as retryable and the job goes back to the queue. */
  readonly signal?: AbortSignal;
  /** W3C trace context of the delivery attempt, sent as the `traceparent` header of its requests. */
  readonly traceparent?: string;
  /**
   * Awaited right before every request that changes the CRM (reads and token requests are not);
   * it throws when this delivery may no longer write (a later one fenced it out), and the adapter
   * lets that error through untouched.
   */
  readonly beforeWrite?: () => Promise<void>;
  /**
   * Checked synchronously as each request but a read is written to its connection: it refuses a
   * write whose last `beforeWrite` is too old (the worker stalled in between). Applied by the HTTP
   * layer; adapters need do nothing.
   */
  readonly sendGuard?: SendGuard;
}

export interface DeliveryResult {
  /** The CRM's id of the record written, for the ledger; absent when the CRM has none (webhooks). */
  readonly recordId?: string;
  readonly status: number;
}

/** One HTTP request as an adapter would send it, with credentials masked, for `handoff-sync preview`. */
export interface PreviewRequest {
  readonly method: string;
  readonly url: string;
  /** In the order sent; secret values masked (`Bearer ****`, `v1,****`). */
  readonly headers: Readonly<Record<string, string>>;
  /** The exact body bytes as text; absent for requests without one. */
  readonly body?: string;
  /** Why this request is sent, when an adapter sends several (`look up by external id`, ...). */
  readonly note?: string;
}

/**
 * Writes many deliveries in one CRM request (decision 0050). Each delivery keeps its own fencing:
 * its `beforeWrite` runs before the request and its `sendGuard` as it leaves; a delivery refused
 * there drops out of the batch with that error. A failure of the whole request is every item's.
 */
export interface AdapterBatching {
  /** Whether this delivery can share a batch request; the others go through `deliver`. */
  accepts(request: DeliveryRequest): boolean;
  /** One outcome per request, in order; never rejects. */
  deliverBatch(requests: readonly DeliveryRequest[]): Promise<BatchItemOutcome<DeliveryResult>[]>;
  /** The request(s) `deliverBatch` would send for these deliveries, for `handoff-sync preview`. */
  previewBatch(requests: readonly DeliveryRequest[]): PreviewRequest[];
}

/**
 * One attempt per call: resolves on success, throws a DeliveryError subclass otherwise. Retrying is
 * the queue's job, never the adapter's.
 */
export interface Adapter {
  readonly type: string;
  deliver(request: DeliveryRequest): Promise<DeliveryResult>;
  /**
   * The request(s) `deliver` would send for this request, without sending anything or fetching a
   * token: pure, so a config can be checked before it goes live.
   */
  preview?(request: DeliveryRequest): PreviewRequest[];
  /**
   * Proves the destination can be reached and, for CRMs, that the credentials are accepted
   * (e.g. by fetching a token). Throws a DeliveryError subclass saying what is wrong.
   */
  check?(): Promise<void>;
  /** Present for CRMs whose API writes many records per request. */
  readonly batch?: AdapterBatching;
  /**
   * True when a delivery reads the CRM (a lookup, a read of the record) before its first write.
   * Its write is then claimed right before it, not with the delivery's start (decision 0017): a
   * claim held through that read would keep every other worker from the delivery, for the claim's
   * whole life, whenever the worker stopped during the read (a freeze, a kill).
   */
  readonly readsBeforeWriting?: boolean;
  /** Releases pooled connections; call once on shutdown. */
  close(): Promise<void>;
}
