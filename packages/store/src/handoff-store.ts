import {
  applyEvent,
  AttemptLogEntrySchema,
  HandoffSnapshotSchema,
  resolveHandoffKey,
  type ApplyResult,
  type AttemptLogEntry,
  type HandoffEvent,
  type HandoffSnapshot,
  type StateCatalogue,
  UnprocessableEventError,
} from "@handoff-sync/schema";
import type { Redis } from "ioredis";
import { createKeyLayout, type KeyLayout } from "./keys.js";
import { LedgerEntrySchema, type LedgerEntry } from "./ledger-entry.js";
import { APPEND_ATTEMPT, CAS_SNAPSHOT, createScriptRunner, RECORD_DELIVERY, TAKE_FENCE } from "./scripts.js";

export interface HandoffStoreSettings {
  readonly redis: Redis;
  readonly prefix: string;
  /** How long a handoff is kept after its last change; 0 keeps it forever. */
  readonly retentionMs: number;
  readonly maxHistory?: number;
  readonly maxAttemptLog?: number;
}

export interface ApplyOutcome extends ApplyResult {
  readonly key: string;
}

/** What `erase` removed for one handoff. */
export interface EraseOutcome {
  readonly key: string;
  /** Redis keys deleted: snapshot, ledger, attempt logs and aliases that existed. */
  readonly deletedKeys: number;
  readonly aliases: number;
  readonly customerIds: number;
}

/** The customer id a snapshot or event carries in `data.customer_id`, as the index keeps it. */
export function customerIdOf(data: Readonly<Record<string, unknown>>): string | undefined {
  const value = data["customer_id"];
  return typeof value === "string" && value !== "" ? value : typeof value === "number" ? String(value) : undefined;
}

export interface ApplyContext {
  readonly catalogue: StateCatalogue;
  readonly receivedAt: string;
  /** An event whose merged snapshot would serialise larger than this is rejected (`snapshot_too_large`). */
  readonly maxSnapshotBytes?: number;
}

/**
 * The pure half of an apply: merge and serialise. Anything it throws comes from the event and the
 * stored snapshot, never from Redis, so it is an `UnprocessableEventError` the consumer rejects.
 */
function mergeAndSerialise(
  current: HandoffSnapshot | undefined,
  event: HandoffEvent,
  key: string,
  ctx: Parameters<typeof applyEvent>[2],
  maxSnapshotBytes: number | undefined,
): { result: ApplyResult; snapshot: HandoffSnapshot; json: string } | { result: ApplyResult; duplicate: true } {
  try {
    const result = applyEvent(current, { ...event }, ctx);
    if (result.outcome === "duplicate") return { result, duplicate: true };
    const snapshot: HandoffSnapshot = { ...result.snapshot, key };
    const json = JSON.stringify(snapshot);
    if (maxSnapshotBytes !== undefined) {
      const bytes = Buffer.byteLength(json);
      if (bytes > maxSnapshotBytes) {
        throw new UnprocessableEventError(
          "snapshot_too_large",
          `the handoff's snapshot would be ${bytes} bytes with this event; the limit is ${maxSnapshotBytes} (source.limits.max_snapshot_bytes)`,
        );
      }
    }
    return { result, snapshot, json };
  } catch (error) {
    if (error instanceof UnprocessableEventError) throw error;
    const reason = error instanceof Error && "reason" in error && error.reason === "unknown_state" ? "unknown_state" : "apply_failed";
    throw new UnprocessableEventError(reason, `applying the event failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
  }
}

export class StoreConflictError extends Error {
  override readonly name = "StoreConflictError";
  readonly retryable = true;
}

/**
 * What a ledger write did: `recorded`; `not_newer` when the ledger already had this version or a
 * newer one; `fenced` when a later delivery of the same (handoff, destination) has started since.
 */
export type RecordDeliveryResult = "recorded" | "not_newer" | "fenced";

export interface HandoffStore {
  readonly keys: KeyLayout;
  resolveKey(event: HandoffEvent): Promise<string>;
  /** Applies an event idempotently; a duplicate returns the current snapshot unchanged. */
  apply(event: HandoffEvent, context: ApplyContext): Promise<ApplyOutcome>;
  get(key: string): Promise<HandoffSnapshot | undefined>;
  findKey(lookup: { kind: "shared_id" | "id"; value: string }): Promise<string | undefined>;
  getDelivery(key: string, destination: string): Promise<LedgerEntry | undefined>;
  getDeliveries(key: string): Promise<Record<string, LedgerEntry>>;
  /** With `fence`, the write is refused (`fenced`) unless that token is still the destination's latest. */
  recordDelivery(key: string, destination: string, entry: LedgerEntry, fence?: string): Promise<RecordDeliveryResult>;
  /**
   * Makes the delivery holding `token` the only one that may write this (handoff, destination):
   * any delivery that took a token before is fenced out (`holdsFence` false, ledger writes refused).
   */
  takeFence(key: string, destination: string, token: string): Promise<void>;
  /** Whether `token` is still the latest fencing token of this (handoff, destination). */
  holdsFence(key: string, destination: string, token: string): Promise<boolean>;
  appendAttempt(key: string, destination: string, entry: AttemptLogEntry): Promise<void>;
  getAttempts(key: string, destination: string): Promise<AttemptLogEntry[]>;
  clearAttempts(key: string, destination: string): Promise<void>;
  /** Keys of handoffs created in [fromMs, toMs), oldest first, paged. */
  keysCreatedBetween(fromMs: number, toMs: number, page?: { offset?: number; limit?: number }): Promise<string[]>;
  /** Keys of the handoffs whose data named this customer id. */
  keysOfCustomer(customerId: string): Promise<string[]>;
  /**
   * Removes everything the store keeps about one handoff (snapshot with history, ledger, the
   * attempt logs of these destinations, aliases, index entries), for privacy requests.
   */
  erase(key: string, destinations: readonly string[]): Promise<EraseOutcome>;
}

const MAX_CAS_RETRIES = 20;

export function createHandoffStore(settings: HandoffStoreSettings): HandoffStore {
  const { redis, retentionMs } = settings;
  const keys = createKeyLayout(settings.prefix);
  const maxAttemptLog = settings.maxAttemptLog ?? 25;
  const scripts = createScriptRunner(redis);

  const parseSnapshot = (json: string | null): HandoffSnapshot | undefined =>
    json === null ? undefined : HandoffSnapshotSchema.parse(JSON.parse(json));
  const readSnapshot = async (key: string): Promise<HandoffSnapshot | undefined> => parseSnapshot(await redis.hget(keys.snapshot(key), "json"));

  /**
   * Settles the event's key. With `prefetch`, the snapshot of the key the event most likely
   * resolves to is read in the same round trip as the aliases; it is only a first guess for the
   * compare-and-set, which rejects it if the handoff changed meanwhile.
   */
  const settleKey = async (event: HandoffEvent, prefetch: boolean): Promise<{ key: string; json?: string | null }> => {
    const candidate = event.shared_id ?? event.id;
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      const [bySharedId, byId, json] = await Promise.all([
        event.shared_id === undefined ? Promise.resolve(null) : redis.get(keys.alias("shared_id", event.shared_id)),
        redis.get(keys.alias("id", event.id)),
        prefetch && attempt === 0 ? redis.hget(keys.snapshot(candidate), "json") : Promise.resolve(undefined),
      ]);
      const aliases: { bySharedId?: string; byId?: string } = {};
      if (bySharedId !== null) aliases.bySharedId = bySharedId;
      if (byId !== null) aliases.byId = byId;
      const resolution = resolveHandoffKey(event, aliases);
      // Both aliases are set at once: they live in different slots and neither depends on the other.
      const settled = await Promise.all(
        resolution.setAliases.map(async (alias) => {
          const aliasKey = keys.alias(alias.kind, alias.value);
          const set = retentionMs > 0 ? await redis.set(aliasKey, alias.key, "PX", retentionMs, "NX") : await redis.set(aliasKey, alias.key, "NX");
          // Another consumer aliased this id first: resolve again so both agree on one key.
          return set !== null || (await redis.get(aliasKey)) === alias.key;
        }),
      );
      if (settled.every(Boolean)) return json !== undefined && resolution.key === candidate ? { key: resolution.key, json } : { key: resolution.key };
    }
    throw new StoreConflictError(`could not settle the key of conversation ${event.id}`);
  };
  const resolveKey = async (event: HandoffEvent): Promise<string> => (await settleKey(event, false)).key;

  // Index entries outside a handoff's slot cannot share its script; they are written after the
  // snapshot and are idempotent, so a crash in between only leaves a handoff out of a backfill.
  const indexSnapshot = async (snapshot: HandoffSnapshot, created: boolean): Promise<void> => {
    const index = keys.handoffIndex();
    const pipeline = redis.pipeline();
    if (created) {
      pipeline.zadd(index, "NX", Date.parse(snapshot.created_at), snapshot.key);
      // The index covers the retention window; older entries would only point at expired handoffs.
      if (retentionMs > 0) pipeline.zremrangebyscore(index, "-inf", `(${Date.now() - retentionMs}`);
    }
    const customerId = customerIdOf(snapshot.data);
    if (customerId !== undefined) {
      pipeline.sadd(keys.customerIndex(customerId), snapshot.key);
      if (retentionMs > 0) pipeline.pexpire(keys.customerIndex(customerId), retentionMs);
    }
    if (pipeline.length > 0) await pipeline.exec();
  };

  return {
    keys,
    resolveKey,
    async apply(event, context) {
      const settled = await settleKey(event, true);
      const { key } = settled;
      let prefetched = settled.json;
      const ctx = { catalogue: context.catalogue, receivedAt: context.receivedAt, ...(settings.maxHistory ? { maxHistory: settings.maxHistory } : {}) };
      for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
        const current = prefetched === undefined ? await readSnapshot(key) : parseSnapshot(prefetched);
        prefetched = undefined;
        const merged = mergeAndSerialise(current, event, key, ctx, context.maxSnapshotBytes);
        if ("duplicate" in merged) return { ...merged.result, key };
        const { result, snapshot, json } = merged;
        const written = await scripts.run(CAS_SNAPSHOT, [keys.snapshot(key)], [String(current?.version ?? 0), String(snapshot.version), json, String(retentionMs)]);
        if (written === 1) {
          // Index entries and alias expiry are idempotent follow-ups in other slots: one round trip.
          await Promise.all([
            indexSnapshot(snapshot, current === undefined),
            // Aliases live as long as the handoff they point to.
            ...(retentionMs > 0
              ? [
                  redis.pexpire(keys.alias("id", snapshot.id), retentionMs),
                  ...(snapshot.shared_id === undefined ? [] : [redis.pexpire(keys.alias("shared_id", snapshot.shared_id), retentionMs)]),
                ]
              : []),
          ]);
          return { ...result, snapshot, key };
        }
      }
      throw new StoreConflictError(`handoff ${key} changed concurrently ${MAX_CAS_RETRIES} times`);
    },
    get: readSnapshot,
    async findKey({ kind, value }) {
      return (await redis.get(keys.alias(kind, value))) ?? undefined;
    },
    async getDelivery(key, destination) {
      const json = await redis.hget(keys.ledger(key), destination);
      return json === null ? undefined : LedgerEntrySchema.parse(JSON.parse(json));
    },
    async getDeliveries(key) {
      const all = await redis.hgetall(keys.ledger(key));
      return Object.fromEntries(Object.entries(all).map(([dest, json]) => [dest, LedgerEntrySchema.parse(JSON.parse(json))]));
    },
    async recordDelivery(key, destination, entry, fence) {
      const result = await scripts.run(RECORD_DELIVERY, [keys.ledger(key), keys.fence(key)], [destination, String(entry.version), JSON.stringify(entry), String(retentionMs), fence ?? ""]);
      return result === 1 ? "recorded" : result === -1 ? "fenced" : "not_newer";
    },
    async takeFence(key, destination, token) {
      await scripts.run(TAKE_FENCE, [keys.fence(key)], [destination, token, String(retentionMs)]);
    },
    async holdsFence(key, destination, token) {
      return (await redis.hget(keys.fence(key), destination)) === token;
    },
    async appendAttempt(key, destination, entry) {
      await scripts.run(APPEND_ATTEMPT, [keys.attempts(key, destination)], [JSON.stringify(entry), String(maxAttemptLog), String(retentionMs)]);
    },
    async getAttempts(key, destination) {
      const entries = await redis.lrange(keys.attempts(key, destination), 0, -1);
      return entries.map((json) => AttemptLogEntrySchema.parse(JSON.parse(json)));
    },
    async clearAttempts(key, destination) {
      await redis.del(keys.attempts(key, destination));
    },
    async keysCreatedBetween(fromMs, toMs, page = {}) {
      return redis.zrangebyscore(keys.handoffIndex(), fromMs, `(${toMs}`, "LIMIT", page.offset ?? 0, page.limit ?? 1000);
    },
    async keysOfCustomer(customerId) {
      return (await redis.smembers(keys.customerIndex(customerId))).sort();
    },
    async erase(key, destinations) {
      const snapshot = await readSnapshot(key);
      const aliasKeys = new Set<string>();
      const customerIds = new Set<string>();
      if (snapshot) {
        aliasKeys.add(keys.alias("id", snapshot.id));
        if (snapshot.shared_id !== undefined) aliasKeys.add(keys.alias("shared_id", snapshot.shared_id));
        const own = customerIdOf(snapshot.data);
        if (own !== undefined) customerIds.add(own);
        for (const entry of snapshot.history) {
          aliasKeys.add(keys.alias("id", entry.id));
          if (entry.shared_id !== undefined) aliasKeys.add(keys.alias("shared_id", entry.shared_id));
          const named = customerIdOf(entry.data);
          if (named !== undefined) customerIds.add(named);
        }
      }
      aliasKeys.add(keys.alias("id", key));
      aliasKeys.add(keys.alias("shared_id", key));
      // An alias is removed only while it still points at this handoff: another handoff's stays.
      const owned: string[] = [];
      for (const aliasKey of aliasKeys) if ((await redis.get(aliasKey)) === key) owned.push(aliasKey);
      // Removing the fence also fences out a delivery still running: it can no longer write the ledger.
      const handoffKeys = [keys.snapshot(key), keys.ledger(key), keys.fence(key), keys.enrichment(key), ...destinations.map((d) => keys.attempts(key, d))];
      const deleted = await redis.del(...handoffKeys);
      const aliases = owned.length > 0 ? await redis.del(...owned) : 0;
      const pipeline = redis.pipeline().zrem(keys.handoffIndex(), key);
      for (const customerId of customerIds) pipeline.srem(keys.customerIndex(customerId), key);
      await pipeline.exec();
      return { key, deletedKeys: deleted + aliases, aliases, customerIds: customerIds.size };
    },
  };
}
