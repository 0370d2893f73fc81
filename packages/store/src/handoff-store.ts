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
} from "@handoff-sync/schema";
import type { Redis } from "ioredis";
import { createKeyLayout, type KeyLayout } from "./keys.js";
import { LedgerEntrySchema, type LedgerEntry } from "./ledger-entry.js";
import { APPEND_ATTEMPT, CAS_SNAPSHOT, RECORD_DELIVERY } from "./scripts.js";

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

export class StoreConflictError extends Error {
  override readonly name = "StoreConflictError";
  readonly retryable = true;
}

export interface HandoffStore {
  readonly keys: KeyLayout;
  resolveKey(event: HandoffEvent): Promise<string>;
  /** Applies an event idempotently; a duplicate returns the current snapshot unchanged. */
  apply(event: HandoffEvent, context: { catalogue: StateCatalogue; receivedAt: string }): Promise<ApplyOutcome>;
  get(key: string): Promise<HandoffSnapshot | undefined>;
  findKey(lookup: { kind: "shared_id" | "id"; value: string }): Promise<string | undefined>;
  getDelivery(key: string, destination: string): Promise<LedgerEntry | undefined>;
  getDeliveries(key: string): Promise<Record<string, LedgerEntry>>;
  recordDelivery(key: string, destination: string, entry: LedgerEntry): Promise<boolean>;
  appendAttempt(key: string, destination: string, entry: AttemptLogEntry): Promise<void>;
  getAttempts(key: string, destination: string): Promise<AttemptLogEntry[]>;
  clearAttempts(key: string, destination: string): Promise<void>;
}

const MAX_CAS_RETRIES = 20;

export function createHandoffStore(settings: HandoffStoreSettings): HandoffStore {
  const { redis, retentionMs } = settings;
  const keys = createKeyLayout(settings.prefix);
  const maxAttemptLog = settings.maxAttemptLog ?? 25;

  const readSnapshot = async (key: string): Promise<HandoffSnapshot | undefined> => {
    const json = await redis.hget(keys.snapshot(key), "json");
    return json === null ? undefined : HandoffSnapshotSchema.parse(JSON.parse(json));
  };

  const resolveKey = async (event: HandoffEvent): Promise<string> => {
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      const [bySharedId, byId] = await Promise.all([
        event.shared_id === undefined ? Promise.resolve(null) : redis.get(keys.alias("shared_id", event.shared_id)),
        redis.get(keys.alias("id", event.id)),
      ]);
      const aliases: { bySharedId?: string; byId?: string } = {};
      if (bySharedId !== null) aliases.bySharedId = bySharedId;
      if (byId !== null) aliases.byId = byId;
      const resolution = resolveHandoffKey(event, aliases);
      let lostRace = false;
      for (const alias of resolution.setAliases) {
        const aliasKey = keys.alias(alias.kind, alias.value);
        const set = retentionMs > 0 ? await redis.set(aliasKey, alias.key, "PX", retentionMs, "NX") : await redis.set(aliasKey, alias.key, "NX");
        if (set === null) {
          // Another consumer aliased this id first: resolve again so both agree on one key.
          const winner = await redis.get(keys.alias(alias.kind, alias.value));
          if (winner !== alias.key) lostRace = true;
        }
      }
      if (!lostRace) return resolution.key;
    }
    throw new StoreConflictError(`could not settle the key of conversation ${event.id}`);
  };

  return {
    keys,
    resolveKey,
    async apply(event, context) {
      const key = await resolveKey(event);
      for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
        const current = await readSnapshot(key);
        const ctx = { catalogue: context.catalogue, receivedAt: context.receivedAt, ...(settings.maxHistory ? { maxHistory: settings.maxHistory } : {}) };
        const result = applyEvent(current, { ...event }, ctx);
        if (result.outcome === "duplicate") return { ...result, key };
        const snapshot: HandoffSnapshot = { ...result.snapshot, key };
        const written = await redis.eval(
          CAS_SNAPSHOT,
          1,
          keys.snapshot(key),
          String(current?.version ?? 0),
          String(snapshot.version),
          JSON.stringify(snapshot),
          String(retentionMs),
        );
        if (written === 1) {
          if (retentionMs > 0) {
            // Aliases live as long as the handoff they point to.
            await Promise.all([
              redis.pexpire(keys.alias("id", snapshot.id), retentionMs),
              snapshot.shared_id === undefined ? Promise.resolve(0) : redis.pexpire(keys.alias("shared_id", snapshot.shared_id), retentionMs),
            ]);
          }
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
    async recordDelivery(key, destination, entry) {
      const result = await redis.eval(RECORD_DELIVERY, 1, keys.ledger(key), destination, String(entry.version), JSON.stringify(entry), String(retentionMs));
      return result === 1;
    },
    async appendAttempt(key, destination, entry) {
      await redis.eval(APPEND_ATTEMPT, 1, keys.attempts(key, destination), JSON.stringify(entry), String(maxAttemptLog), String(retentionMs));
    },
    async getAttempts(key, destination) {
      const entries = await redis.lrange(keys.attempts(key, destination), 0, -1);
      return entries.map((json) => AttemptLogEntrySchema.parse(JSON.parse(json)));
    },
    async clearAttempts(key, destination) {
      await redis.del(keys.attempts(key, destination));
    },
  };
}
