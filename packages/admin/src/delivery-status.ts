import type { DestinationQueue } from "@handoff-sync/queue";
import {
  deadLetterId,
  deliveryDedupId,
  deliveryJobId,
  DeadLetterEntrySchema,
  DeliveryJobSchema,
  type AttemptLogEntry,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import type { HandoffStore } from "@handoff-sync/store";

export type DeliveryStatusKind =
  "delivered" | "pending" | "retrying" | "parked" | "dead_lettered" | "not_sent";

export interface DestinationDeliveryStatus {
  readonly destination: string;
  readonly status: DeliveryStatusKind;
  /** True when the destination has the handoff's latest version. */
  readonly up_to_date: boolean;
  readonly delivered: { version: number; record_id: string | null; delivered_at: string } | null;
  readonly pending_job: { id: string; state: string; version: number | null } | null;
  readonly dead_letter: {
    id: string;
    version: number;
    reason: string;
    error: string;
    dead_lettered_at: string;
  } | null;
  readonly parked: { reason: string; admin_hint: string; parked_at: string; by: string } | null;
  readonly last_attempt: AttemptLogEntry | null;
}

const PENDING_STATES = new Set([
  "waiting",
  "wait",
  "paused",
  "delayed",
  "active",
  "prioritized",
  "waiting-children",
]);
/** Dead letters are looked up by id for the versions the destination lacks, newest first, this far back. */
const MAX_DEAD_LETTER_LOOKUPS = 20;

async function pendingJob(
  queue: DestinationQueue,
  snapshot: HandoffSnapshot,
): Promise<DestinationDeliveryStatus["pending_job"]> {
  // The job of the latest version, else whatever job the handoff's deduplication id points at
  // (an older version that is running while the newer one waits to fold in).
  const candidates = [deliveryJobId(snapshot.key, snapshot.version)];
  const dedup = await queue.deliver.getDeduplicationJobId(deliveryDedupId(snapshot.key));
  if (dedup !== null && !candidates.includes(dedup)) candidates.push(dedup);
  for (const id of candidates) {
    const job = await queue.deliver.getJob(id);
    if (!job) continue;
    const state = await job.getState();
    if (PENDING_STATES.has(state)) {
      const parsed = DeliveryJobSchema.safeParse(job.data as unknown);
      return { id, state, version: parsed.success ? parsed.data.version : null };
    }
  }
  return null;
}

interface FoundDeadLetter {
  readonly entry: NonNullable<DestinationDeliveryStatus["dead_letter"]>;
  readonly lastAttempt: AttemptLogEntry | undefined;
}

async function deadLetter(
  queue: DestinationQueue,
  snapshot: HandoffSnapshot,
  deliveredVersion: number,
): Promise<FoundDeadLetter | null> {
  const lowest = Math.max(deliveredVersion + 1, snapshot.version - MAX_DEAD_LETTER_LOOKUPS + 1, 1);
  for (let version = snapshot.version; version >= lowest; version--) {
    const job = await queue.dead.getJob(deadLetterId(snapshot.key, version));
    const parsed = job ? DeadLetterEntrySchema.safeParse(job.data as unknown) : undefined;
    if (parsed?.success) {
      const e = parsed.data;
      return {
        entry: {
          id: e.id,
          version: e.version,
          reason: e.reason,
          error: e.error,
          dead_lettered_at: e.dead_lettered_at,
        },
        lastAttempt: e.attempts.at(-1),
      };
    }
  }
  return null;
}

/**
 * Where one handoff stands on one destination: the answer to "did this handoff reach that CRM?".
 * A job still in the queue wins (parked when the destination is parked, retrying once an attempt
 * failed), then a dead letter of a version the destination lacks, then the ledger.
 */
export async function deliveryStatus(
  store: HandoffStore,
  queue: DestinationQueue,
  snapshot: HandoffSnapshot,
): Promise<DestinationDeliveryStatus> {
  const [ledger, attempts, park, pending] = await Promise.all([
    store.getDelivery(snapshot.key, queue.destination),
    store.getAttempts(snapshot.key, queue.destination),
    queue.state.getPark(),
    pendingJob(queue, snapshot),
  ]);
  const deliveredVersion = ledger?.version ?? 0;
  const dead =
    pending === null && deliveredVersion < snapshot.version
      ? await deadLetter(queue, snapshot, deliveredVersion)
      : null;
  // The attempt log is cleared when a delivery is dead-lettered; the entry keeps its own copy.
  const lastAttempt = attempts.at(-1) ?? dead?.lastAttempt ?? null;
  let status: DeliveryStatusKind;
  if (pending !== null) status = park ? "parked" : attempts.length > 0 ? "retrying" : "pending";
  else if (dead !== null) status = "dead_lettered";
  else if (ledger) status = "delivered";
  else status = "not_sent";
  return {
    destination: queue.destination,
    status,
    up_to_date: deliveredVersion >= snapshot.version,
    delivered: ledger
      ? { version: ledger.version, record_id: ledger.record_id ?? null, delivered_at: ledger.delivered_at }
      : null,
    pending_job: pending,
    dead_letter: dead?.entry ?? null,
    parked: park ?? null,
    last_attempt: lastAttempt,
  };
}
