import type { HandoffSnapshot } from "@handoff-sync/schema";

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
}

export interface DeliveryResult {
  /** The CRM's id of the record written, for the ledger; absent when the CRM has none (webhooks). */
  readonly recordId?: string;
  readonly status: number;
}

/**
 * One attempt per call: resolves on success, throws a DeliveryError subclass otherwise. Retrying is
 * the queue's job, never the adapter's.
 */
export interface Adapter {
  readonly type: string;
  deliver(request: DeliveryRequest): Promise<DeliveryResult>;
  /** Releases pooled connections; call once on shutdown. */
  close(): Promise<void>;
}
