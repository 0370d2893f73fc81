import { deliveryJobId, type DeadLetterEntry, type DeliveryJob } from "@handoff-sync/schema";
import type { HandoffStore } from "@handoff-sync/store";
import { getDeadLetter, listDeadLetters, removeDeadLetter, type DeadLetterFilter } from "./dead-letters.js";
import type { DestinationQueue } from "./delivery-queues.js";
import { DELIVERY_JOB_NAME, deliveryJobOptions } from "./job-options.js";

export type ReplayAction =
  /** A delivery of the latest snapshot is (or would be) enqueued and the entry removed. */
  | "enqueue"
  /** The destination already has this version or a newer one: the entry is resolved and removed. */
  | "already_delivered"
  /** The handoff is gone from the store (retention or erasure): nothing to send; the entry stays. */
  | "missing";

export interface ReplayItem {
  readonly id: string;
  readonly key: string;
  readonly destination: string;
  readonly reason: DeadLetterEntry["reason"];
  readonly deadLetteredVersion: number;
  /** The version that would be sent: the latest snapshot's, not the dead-lettered one. */
  readonly sendVersion?: number;
  readonly deliveredVersion?: number;
  readonly action: ReplayAction;
}

export type ReplaySelection = { readonly ids: readonly string[] } | { readonly filter: DeadLetterFilter };

/**
 * Replays dead-lettered deliveries of one destination. Each sends the handoff's latest snapshot
 * (the worker re-reads it), uses the normal job id for that version so a second replay is a
 * no-op, and removes the entry once the delivery is enqueued. A dry run changes nothing.
 */
export async function replayDeadLetters(
  queue: DestinationQueue,
  store: HandoffStore,
  selection: ReplaySelection,
  options: { dryRun: boolean; now?: () => Date },
): Promise<ReplayItem[]> {
  const now = options.now ?? (() => new Date());
  const entries: DeadLetterEntry[] = [];
  if ("ids" in selection) {
    for (const id of selection.ids) {
      const entry = await getDeadLetter(queue.dead, id);
      if (entry) entries.push(entry);
    }
  } else {
    entries.push(
      ...(await listDeadLetters(queue.dead, selection.filter, { limit: Number.MAX_SAFE_INTEGER })).entries,
    );
  }

  const items: ReplayItem[] = [];
  for (const entry of entries) {
    const base = {
      id: entry.id,
      key: entry.key,
      destination: queue.destination,
      reason: entry.reason,
      deadLetteredVersion: entry.version,
    };
    const snapshot = await store.get(entry.key);
    if (!snapshot) {
      items.push({ ...base, action: "missing" });
      continue;
    }
    const delivered = await store.getDelivery(entry.key, queue.destination);
    const versions = {
      sendVersion: snapshot.version,
      ...(delivered ? { deliveredVersion: delivered.version } : {}),
    };
    if (delivered && delivered.version >= snapshot.version) {
      items.push({ ...base, ...versions, action: "already_delivered" });
      if (!options.dryRun) await removeDeadLetter(queue.dead, entry.id);
      continue;
    }
    items.push({ ...base, ...versions, action: "enqueue" });
    if (options.dryRun) continue;
    const job: DeliveryJob = {
      v: 1,
      key: entry.key,
      version: snapshot.version,
      event_id: snapshot.history.at(-1)?.event_id ?? "replay",
      occurred_at: snapshot.occurred_at,
      enqueued_at: now().toISOString(),
    };
    // The failed job of this version still holds its id for a while; it must go for the id to be reused.
    const previous = await queue.deliver.getJob(deliveryJobId(job.key, job.version));
    if (previous && (await previous.isFailed())) await previous.remove();
    await queue.deliver.add(DELIVERY_JOB_NAME, job, deliveryJobOptions(job, queue.policy));
    await removeDeadLetter(queue.dead, entry.id);
  }
  return items;
}
