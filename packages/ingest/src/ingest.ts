import type { DeliveryJob, HandoffEvent, LifecycleStage, StateCatalogue } from "@handoff-sync/schema";
import type { HandoffStore } from "@handoff-sync/store";
import type { Logger } from "@handoff-sync/telemetry";
import { decodeHandoffEvent, type RejectionReason } from "./decode.js";

export interface IngestRecord {
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string | Buffer>>;
  readonly timestamp: number;
}

export interface IngestSettings<R extends IngestRecord = IngestRecord> {
  readonly store: HandoffStore;
  readonly catalogue: StateCatalogue;
  readonly maxBytes: number;
  readonly route: (event: { state: string; stage: LifecycleStage; channel?: string }) => readonly string[];
  readonly enqueue: (destination: string, job: DeliveryJob) => Promise<void>;
  readonly reject: (record: R, reason: RejectionReason, error: string) => Promise<void>;
  readonly log: Logger;
  readonly now?: () => Date;
}

export type IngestResult =
  | { readonly result: "rejected"; readonly reason: RejectionReason }
  | { readonly result: "applied" | "stale" | "duplicate"; readonly key: string; readonly version: number; readonly destinations: readonly string[] };

function traceparentOf(headers: IngestRecord["headers"]): string | undefined {
  const value = headers.traceparent;
  return value === undefined ? undefined : value.toString();
}

/**
 * One record in: rejected with its reason, or applied to the store and enqueued for every routed
 * destination. A duplicate still enqueues: the crash between apply and enqueue leaves exactly
 * that, and the job id makes the enqueue a no-op when it had happened.
 */
export function createIngest<R extends IngestRecord>(settings: IngestSettings<R>): (record: R) => Promise<IngestResult> {
  const now = settings.now ?? (() => new Date());
  return async (record) => {
    const decoded = decodeHandoffEvent(record.value, { maxBytes: settings.maxBytes, catalogue: settings.catalogue });
    if (!decoded.ok) {
      await settings.reject(record, decoded.reason, decoded.error);
      settings.log.warn({ reason: decoded.reason, error: decoded.error }, "event rejected");
      return { result: "rejected", reason: decoded.reason };
    }
    const event: HandoffEvent = decoded.event;
    const applied = await settings.store.apply(event, { catalogue: settings.catalogue, receivedAt: now().toISOString() });
    const stage = settings.catalogue.stageOf(event.state);
    const destinations = stage === undefined ? [] : settings.route({ state: event.state, stage, ...(event.channel !== undefined ? { channel: event.channel } : {}) });
    const traceparent = traceparentOf(record.headers);
    const job: DeliveryJob = {
      v: 1,
      key: applied.key,
      version: applied.snapshot.version,
      event_id: event.event_id,
      occurred_at: event.occurred_at,
      enqueued_at: now().toISOString(),
      ...(traceparent !== undefined ? { traceparent } : {}),
    };
    await Promise.all(destinations.map((destination) => settings.enqueue(destination, job)));
    settings.log.debug({ handoffKey: applied.key, version: job.version, outcome: applied.outcome, destinations }, "event ingested");
    return { result: applied.outcome, key: applied.key, version: job.version, destinations };
  };
}
