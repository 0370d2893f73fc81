import { routeEvent, type RoutingConfig } from "@handoff-sync/config";
import { consumerGroupLag, type Kafka, type PartitionLag } from "@handoff-sync/kafka";
import {
  DEFAULT_LIMITER,
  getDeadLetter,
  inspectQueue,
  listDeadLetters,
  parkDestination,
  removeDeadLetter,
  replayDeadLetters,
  resumeDestination,
  type DeadLetterFilter,
  type DeliveryQueues,
  type DestinationQueue,
  type ParkRecord,
  type ReplayItem,
} from "@handoff-sync/queue";
import {
  deliveryDedupId,
  deliveryJobId,
  type DeadLetterEntry,
  type DeliveryJob,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import type { HandoffStore } from "@handoff-sync/store";
import type { Logger } from "@handoff-sync/telemetry";
import { fingerprint, type AuditEntry, type AuditLog } from "./audit.js";
import { deliveryStatus, type DestinationDeliveryStatus } from "./delivery-status.js";
import { AdminInputError, AdminNotFoundError, AdminUnavailableError } from "./errors.js";
import {
  listRejected,
  originalHeaders,
  readRejected,
  type RecordRef,
  type RejectedPage,
  type RejectedQuery,
} from "./rejected.js";

export interface AdminSettings {
  readonly store: HandoffStore;
  readonly queues: DeliveryQueues;
  readonly audit: AuditLog;
  readonly log: Logger;
  /** Needed for consumer lag and the rejected events; those actions fail without it. */
  readonly kafka?: Kafka;
  readonly source: { readonly topic: string; readonly rejectedTopic: string; readonly groupId: string };
  /** The destinations file's routing: a backfill only sends what the routes would have sent. */
  readonly routing?: RoutingConfig;
  /** Each destination's configured rate limit (`rate_limit.max`), to tell a limit reached from the limiter's normal window. */
  readonly rateLimitMax?: (destination: string) => number | undefined;
  readonly now?: () => Date;
}

export interface DestinationOverview {
  readonly destination: string;
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly prioritized: number;
  readonly failed: number;
  readonly dead_lettered: number;
  readonly paused: boolean;
  readonly parked: ParkRecord | null;
  readonly rate_limited: boolean;
  readonly rate_limit_ttl_ms: number;
  readonly oldest_waiting_age_ms: number;
}

export type HandoffLookup = { readonly kind: "shared_id" | "id"; readonly value: string };
export type Selection = { readonly ids: readonly string[] } | { readonly filter: DeadLetterFilter };
export type ErasureSubject = { readonly kind: "shared_id" | "id" | "customer_id"; readonly value: string };

export interface BackfillResult {
  readonly destination: string;
  readonly dry_run: boolean;
  readonly matched: number;
  readonly enqueued: number;
  readonly already_delivered: number;
  readonly not_routed: number;
  readonly missing: number;
}

export interface ErasureResult {
  readonly dry_run: boolean;
  readonly handoffs: number;
  readonly redis_keys: number;
  readonly dead_letters: number;
  readonly jobs: number;
  /** Jobs running right now cannot be removed; erase again once they finished. */
  readonly jobs_active: number;
  readonly audit_entries: number;
}

export interface ResendItem extends RecordRef {
  readonly topic: string | null;
  readonly action: "resent" | "would_resend" | "not_found";
}

export interface Admin {
  overview(): Promise<DestinationOverview[]>;
  consumerLag(): Promise<{ group_id: string; topic: string; total_lag: number; partitions: PartitionLag[] }>;
  findHandoff(
    lookup: HandoffLookup,
  ): Promise<{ snapshot: HandoffSnapshot; deliveries: DestinationDeliveryStatus[] } | undefined>;
  listDeadLetters(
    destination: string,
    filter: DeadLetterFilter,
    page: { offset?: number; limit?: number },
  ): Promise<{ entries: DeadLetterEntry[]; total: number }>;
  getDeadLetter(destination: string, id: string): Promise<DeadLetterEntry>;
  replay(actor: string, destination: string, selection: Selection, dryRun: boolean): Promise<ReplayItem[]>;
  discard(actor: string, destination: string, selection: Selection, dryRun: boolean): Promise<string[]>;
  pause(actor: string, destination: string, reason: string): Promise<ParkRecord>;
  resume(actor: string, destination: string): Promise<void>;
  listRejected(query: RejectedQuery): Promise<RejectedPage>;
  resendRejected(actor: string, refs: readonly RecordRef[], dryRun: boolean): Promise<ResendItem[]>;
  backfill(
    actor: string,
    destination: string,
    range: { from: string; to: string },
    dryRun: boolean,
  ): Promise<BackfillResult>;
  erase(actor: string, subject: ErasureSubject, dryRun: boolean): Promise<ErasureResult>;
  auditLog(page: {
    limit?: number;
    before?: string;
  }): Promise<{ entries: AuditEntry[]; next_before: string | null }>;
}

const BACKFILL_PAGE = 500;

/**
 * The operator actions behind the admin API (and the CLI): each reads or changes the store,
 * the queues or Kafka, and every change is audited with who asked for it.
 */
export function createAdmin(settings: AdminSettings): Admin {
  const { store, queues, audit } = settings;
  const now = settings.now ?? (() => new Date());
  const log = settings.log.child({ component: "admin" });

  const queueOf = (destination: string): DestinationQueue => {
    const queue = queues.all().find((q) => q.destination === destination);
    if (!queue) throw new AdminNotFoundError(`no destination ${destination}`);
    return queue;
  };
  const kafkaOrFail = (): Kafka => {
    if (!settings.kafka) throw new AdminUnavailableError("Kafka is not configured for this service");
    return settings.kafka;
  };
  const selected = async (queue: DestinationQueue, selection: Selection): Promise<DeadLetterEntry[]> => {
    if ("ids" in selection) {
      const entries = await Promise.all(selection.ids.map((id) => getDeadLetter(queue.dead, id)));
      return entries.filter((e): e is DeadLetterEntry => e !== undefined);
    }
    return (await listDeadLetters(queue.dead, selection.filter, { limit: Number.MAX_SAFE_INTEGER })).entries;
  };
  const describe = (selection: Selection): string =>
    "ids" in selection ? `ids ${selection.ids.join(",")}` : `filter ${JSON.stringify(selection.filter)}`;

  return {
    async overview() {
      return Promise.all(
        queues.all().map(async (queue) => {
          const [snapshot, ttl, park] = await Promise.all([
            inspectQueue(queue, now().getTime()),
            queue.deliver.getRateLimitTtl(settings.rateLimitMax?.(queue.destination) ?? DEFAULT_LIMITER.max),
            queue.state.getPark(),
          ]);
          return {
            destination: queue.destination,
            ...snapshot.counts,
            dead_lettered: snapshot.deadLetters,
            paused: snapshot.paused,
            parked: park ?? null,
            rate_limited: ttl > 0,
            rate_limit_ttl_ms: Math.max(0, ttl),
            oldest_waiting_age_ms: snapshot.oldestWaitingAgeMs,
          };
        }),
      );
    },

    async consumerLag() {
      const { groupId, topic } = settings.source;
      const partitions = await consumerGroupLag(kafkaOrFail(), groupId, topic);
      return {
        group_id: groupId,
        topic,
        total_lag: partitions.reduce((sum, p) => sum + p.lag, 0),
        partitions,
      };
    },

    async findHandoff(lookup) {
      const key = await store.findKey(lookup);
      const snapshot = key === undefined ? undefined : await store.get(key);
      if (!snapshot) return undefined;
      const deliveries = await Promise.all(
        queues.all().map((queue) => deliveryStatus(store, queue, snapshot)),
      );
      return { snapshot, deliveries };
    },

    async listDeadLetters(destination, filter, page) {
      return listDeadLetters(queueOf(destination).dead, filter, page);
    },

    async getDeadLetter(destination, id) {
      const entry = await getDeadLetter(queueOf(destination).dead, id);
      if (!entry) throw new AdminNotFoundError(`no dead letter ${id} on ${destination}`);
      return entry;
    },

    async replay(actor, destination, selection, dryRun) {
      const items = await replayDeadLetters(queueOf(destination), store, selection, { dryRun, now });
      await audit.record({
        actor,
        action: "dead_letters.replay",
        target: `${destination} ${describe(selection)}`,
        outcome: dryRun ? "dry_run" : "ok",
        details: { items: items.map((i) => ({ id: i.id, action: i.action })) },
      });
      return items;
    },

    async discard(actor, destination, selection, dryRun) {
      const queue = queueOf(destination);
      const entries = await selected(queue, selection);
      const removed: string[] = [];
      for (const entry of entries) {
        if (dryRun || (await removeDeadLetter(queue.dead, entry.id))) removed.push(entry.id);
      }
      await audit.record({
        actor,
        action: "dead_letters.discard",
        target: `${destination} ${describe(selection)}`,
        outcome: dryRun ? "dry_run" : "ok",
        details: { ids: removed },
      });
      return removed;
    },

    async pause(actor, destination, reason) {
      const queue = queueOf(destination);
      const record = await parkDestination(
        queue,
        queue.state,
        {
          reason,
          admin_hint: "paused by an operator: resume it when the cause is fixed",
          by: actor,
          cause: "operator",
        },
        log,
        now(),
      );
      await audit.record({
        actor,
        action: "destination.pause",
        target: destination,
        outcome: "ok",
        details: { reason },
      });
      return record;
    },

    async resume(actor, destination) {
      const queue = queueOf(destination);
      await resumeDestination(queue, queue.state, log, actor);
      await audit.record({
        actor,
        action: "destination.resume",
        target: destination,
        outcome: "ok",
        details: {},
      });
    },

    async listRejected(query) {
      return listRejected(kafkaOrFail(), settings.source.rejectedTopic, query);
    },

    async resendRejected(actor, refs, dryRun) {
      if (refs.length === 0) throw new AdminInputError("name at least one record (partition and offset)");
      const kafka = kafkaOrFail();
      const records = await readRejected(kafka, settings.source.rejectedTopic, refs);
      const found = new Map(records.map((r) => [`${r.partition}:${r.offset}`, r]));
      const items: ResendItem[] = [];
      const producer = dryRun ? undefined : kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer?.connect();
      try {
        for (const ref of refs) {
          const record = found.get(`${ref.partition}:${BigInt(ref.offset)}`);
          if (!record) {
            items.push({ ...ref, topic: null, action: "not_found" });
            continue;
          }
          // Back to the topic it was consumed from, so it is parsed and validated again like any event.
          const sourceHeader = record.headers["handoff-sync-source-topic"];
          const topic = sourceHeader === undefined ? settings.source.topic : sourceHeader.toString();
          if (producer)
            await producer.send({
              topic,
              acks: -1,
              messages: [{ key: record.key, value: record.value, headers: originalHeaders(record) }],
            });
          items.push({ ...ref, topic, action: producer ? "resent" : "would_resend" });
        }
      } finally {
        await producer?.disconnect();
      }
      await audit.record({
        actor,
        action: "rejected.resend",
        target: settings.source.rejectedTopic,
        outcome: dryRun ? "dry_run" : "ok",
        details: { records: items.map((i) => `${i.partition}:${i.offset}:${i.action}`) },
      });
      return items;
    },

    async backfill(actor, destination, range, dryRun) {
      const queue = queueOf(destination);
      const fromMs = Date.parse(range.from);
      const toMs = Date.parse(range.to);
      if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs)
        throw new AdminInputError("from and to must be instants with from before to");
      const counts = { matched: 0, enqueued: 0, already_delivered: 0, not_routed: 0, missing: 0 };
      for (let offset = 0; ; offset += BACKFILL_PAGE) {
        const keys = await store.keysCreatedBetween(fromMs, toMs, { offset, limit: BACKFILL_PAGE });
        for (const key of keys) {
          counts.matched++;
          const snapshot = await store.get(key);
          if (!snapshot) {
            counts.missing++;
            continue;
          }
          if (settings.routing && !routeEvent(settings.routing, snapshot).includes(destination)) {
            counts.not_routed++;
            continue;
          }
          const delivered = await store.getDelivery(key, destination);
          if (delivered && delivered.version >= snapshot.version) {
            counts.already_delivered++;
            continue;
          }
          counts.enqueued++;
          if (dryRun) continue;
          const job: DeliveryJob = {
            v: 1,
            key,
            version: snapshot.version,
            event_id: snapshot.history.at(-1)?.event_id ?? "backfill",
            occurred_at: snapshot.occurred_at,
            enqueued_at: now().toISOString(),
          };
          await queues.enqueue(queue.destination, job);
        }
        if (keys.length < BACKFILL_PAGE) break;
      }
      const result = { destination, dry_run: dryRun, ...counts };
      await audit.record({
        actor,
        action: "destination.backfill",
        target: destination,
        outcome: dryRun ? "dry_run" : "ok",
        details: { from: range.from, to: range.to, ...counts },
      });
      return result;
    },

    async erase(actor, subject, dryRun) {
      const keys =
        subject.kind === "customer_id"
          ? await store.keysOfCustomer(subject.value)
          : await store
              .findKey({ kind: subject.kind, value: subject.value })
              .then((key) => (key === undefined ? [] : [key]));
      const totals = {
        handoffs: keys.length,
        redis_keys: 0,
        dead_letters: 0,
        jobs: 0,
        jobs_active: 0,
        audit_entries: 0,
      };
      const mentions = new Set<string>([subject.value]);
      const destinations = queues.all().map((q) => q.destination);
      for (const key of keys) {
        const snapshot = await store.get(key);
        mentions.add(key);
        if (snapshot) {
          mentions.add(snapshot.id);
          if (snapshot.shared_id !== undefined) mentions.add(snapshot.shared_id);
          for (const entry of snapshot.history) {
            mentions.add(entry.id);
            if (entry.shared_id !== undefined) mentions.add(entry.shared_id);
          }
        }
        for (const queue of queues.all()) {
          const dead = (await listDeadLetters(queue.dead, { key }, { limit: Number.MAX_SAFE_INTEGER }))
            .entries;
          totals.dead_letters += dead.length;
          if (!dryRun) for (const entry of dead) await removeDeadLetter(queue.dead, entry.id);
          // Jobs hold only the key and a version; every version's job id is known from the snapshot.
          const ids = new Set<string>();
          for (let version = 1; version <= (snapshot?.version ?? 0); version++)
            ids.add(deliveryJobId(key, version));
          const dedup = await queue.deliver.getDeduplicationJobId(deliveryDedupId(key));
          if (dedup !== null) ids.add(dedup);
          let activeMerge = false;
          for (const id of ids) {
            const job = await queue.deliver.getJob(id);
            if (!job) continue;
            if (await job.isActive()) {
              totals.jobs_active++;
              if (id === dedup) activeMerge = true;
              continue;
            }
            totals.jobs++;
            if (!dryRun) await job.remove();
          }
          // The merge key of a running job is what keeps a second delivery of this handoff from
          // starting beside it; it goes when that job ends (erase again then).
          if (!dryRun && !activeMerge) await queue.deliver.removeDeduplicationKey(deliveryDedupId(key));
        }
        if (!dryRun) totals.redis_keys += (await store.erase(key, destinations)).deletedKeys;
      }
      if (!dryRun) totals.audit_entries = await audit.eraseMentions([...mentions]);
      // The request itself is audited without the identifier it was about.
      await audit.record({
        actor,
        action: "erase",
        target: `${subject.kind} ${fingerprint(subject.value)}`,
        outcome: dryRun ? "dry_run" : "ok",
        details: { ...totals },
      });
      return { dry_run: dryRun, ...totals };
    },

    async auditLog(page) {
      return audit.list(page);
    },
  };
}
