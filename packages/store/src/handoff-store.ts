import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  applyEvent,
  AttemptLogEntrySchema,
  HandoffSnapshotSchema,
  resolveHandoffKey,
  type AliasAssignment,
  type ApplyResult,
  type AttemptLogEntry,
  type HandoffEvent,
  type HandoffSnapshot,
  type StateCatalogue,
  UnprocessableEventError,
} from "@handoff-sync/schema";
import { isCluster, type RedisClient } from "./redis-client.js";
import { createKeyLayout, type KeyLayout } from "./keys.js";
import { LedgerEntrySchema, type LedgerEntry } from "./ledger-entry.js";
import {
  APPEND_ATTEMPT,
  APPLY_ON_ONE_NODE,
  BEGIN_DELIVERY,
  CAS_SNAPSHOT,
  CLAIM_WRITE,
  COMMIT_ALIAS,
  createScriptRunner,
  ERASE_HANDOFF,
  READ_FOR_APPLY,
  READ_ON_ONE_NODE,
  RECORD_DELIVERY,
  REFRESH_ALIAS,
  RELEASE_ALIAS,
  RELEASE_WRITE,
  TAKE_FENCE,
  VERSION_FLOOR,
} from "./scripts.js";

export interface HandoffStoreSettings {
  readonly redis: RedisClient;
  readonly prefix: string;
  /** How long a handoff is kept after its last change; 0 keeps it forever. */
  readonly retentionMs: number;
  /**
   * How long a handoff's version floor outlives its snapshot (or its erasure), so a handoff that
   * comes back continues its versions; 0 keeps floors forever. Default 400 days.
   */
  readonly versionFloorRetentionMs?: number;
  /** How long a claim on an alias holds before others may take it (a consumer that died mid-claim). */
  readonly aliasClaimTtlMs?: number;
  readonly maxHistory?: number;
  readonly maxAttemptLog?: number;
  /**
   * Whether an apply may run scripts whose keys span slots (decision 0060): true by default on a
   * single Redis, never on a cluster. False makes a single Redis receive exactly what a cluster would.
   */
  readonly crossSlotScripts?: boolean;
}

/** An alias of the event that points to another handoff than the one the event joined (decision 0003). */
export interface AliasConflict {
  readonly kind: AliasAssignment["kind"];
  readonly value: string;
  /** The handoff the alias points to. */
  readonly aliasedTo: string;
  /** The handoff the event was applied to. */
  readonly key: string;
}

export interface ApplyOutcome extends ApplyResult {
  readonly key: string;
  /** Aliases of the event left pointing elsewhere; an operator's look is needed (logged and counted by the caller). */
  readonly conflicts: readonly AliasConflict[];
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
  return typeof value === "string" && value !== ""
    ? value
    : typeof value === "number"
      ? String(value)
      : undefined;
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
  floor: number,
):
  | { result: ApplyResult; snapshot: HandoffSnapshot; json: string }
  | { result: ApplyResult; duplicate: true } {
  try {
    const result = applyEvent(current, { ...event }, ctx);
    if (result.outcome === "duplicate") return { result, duplicate: true };
    // A new lifetime's first version is 1 above the floor; later ones count on from there.
    const snapshot: HandoffSnapshot = {
      ...result.snapshot,
      key,
      ...(current === undefined ? { version: floor + 1 } : {}),
    };
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
    const reason =
      error instanceof Error && "reason" in error && error.reason === "unknown_state"
        ? "unknown_state"
        : "apply_failed";
    throw new UnprocessableEventError(
      reason,
      `applying the event failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      { cause: error },
    );
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

/**
 * Whether a delivery may start: `taken` (it holds the fence now), or `claimed` when an earlier
 * delivery's write may still land for `waitMs` more.
 */
export type TakeFenceResult =
  { readonly kind: "taken" } | { readonly kind: "claimed"; readonly waitMs: number };

/**
 * The check before a CRM write: `claimed` (write now; the claim lasts the ttl given), `fenced` (a
 * later delivery started), or `delivered` (the ledger already has `version` or a newer one).
 */
export type ClaimWriteResult =
  | { readonly kind: "claimed" }
  | { readonly kind: "fenced" }
  | { readonly kind: "delivered"; readonly version: number };

/** `beginDelivery`'s answer: the fence (taken or claimed) and what the delivery reads. */
export interface BeginDeliveryResult {
  readonly fence: TakeFenceResult;
  readonly snapshot: HandoffSnapshot | undefined;
  readonly delivered: LedgerEntry | undefined;
  /**
   * Whether the write claim was taken too (only when asked for): the fence was taken, there is a
   * snapshot, and the ledger does not already hold its version.
   */
  readonly writeClaimed: boolean;
}

export interface HandoffStore {
  readonly keys: KeyLayout;
  resolveKey(event: HandoffEvent): Promise<string>;
  /** Applies an event idempotently; a duplicate returns the current snapshot unchanged. */
  apply(event: HandoffEvent, context: ApplyContext): Promise<ApplyOutcome>;
  get(key: string): Promise<HandoffSnapshot | undefined>;
  findKey(lookup: { kind: "shared_id" | "id"; value: string }): Promise<string | undefined>;
  getDelivery(key: string, destination: string): Promise<LedgerEntry | undefined>;
  getDeliveries(key: string): Promise<Record<string, LedgerEntry>>;
  /**
   * With `fence`, the write is refused (`fenced`) unless that token is still the destination's
   * latest. With `clearAttempts`, the destination's attempt log is cleared in the same call unless
   * fenced: the delivery's attempts end with it.
   */
  recordDelivery(
    key: string,
    destination: string,
    entry: LedgerEntry,
    fence?: string,
    options?: { readonly clearAttempts?: boolean },
  ): Promise<RecordDeliveryResult>;
  /**
   * What a delivery starts with, in one round trip and one command: `takeFence`'s result, the
   * snapshot, and this destination's ledger entry. With `claimWriteMs`, also `claimWrite`'s claim on
   * the snapshot's version for that long, whenever `claimWrite` would grant it then; the claim ends
   * as `claimWrite`'s does.
   */
  beginDelivery(
    key: string,
    destination: string,
    token: string,
    options?: { readonly claimWriteMs?: number },
  ): Promise<BeginDeliveryResult>;
  /**
   * Makes the delivery holding `token` the only one that may write this (handoff, destination):
   * any delivery that took a token before is fenced out (`holdsFence` false, ledger writes refused).
   * Refused (`claimed`) while an earlier delivery's write claim is live.
   */
  takeFence(key: string, destination: string, token: string): Promise<TakeFenceResult>;
  /**
   * Right before a CRM write: checks the fence and the ledger, and claims the write for `ttlMs`
   * (decision 0017). The claim ends with `recordDelivery` or `releaseWrite` once the write was
   * answered; a write without an answer keeps it until it expires.
   */
  claimWrite(
    key: string,
    destination: string,
    token: string,
    claim: { readonly version: number; readonly ttlMs: number },
  ): Promise<ClaimWriteResult>;
  /** Ends `token`'s write claim: its write was answered, so it can no longer land later. */
  releaseWrite(key: string, destination: string, token: string): Promise<void>;
  /** Whether `token` is still the latest fencing token of this (handoff, destination). */
  holdsFence(key: string, destination: string, token: string): Promise<boolean>;
  appendAttempt(key: string, destination: string, entry: AttemptLogEntry): Promise<void>;
  getAttempts(key: string, destination: string): Promise<AttemptLogEntry[]>;
  clearAttempts(key: string, destination: string): Promise<void>;
  /** Keys of handoffs created in [fromMs, toMs), oldest first, paged. */
  keysCreatedBetween(
    fromMs: number,
    toMs: number,
    page?: { offset?: number; limit?: number },
  ): Promise<string[]>;
  /** Keys of the handoffs whose data named this customer id. */
  keysOfCustomer(customerId: string): Promise<string[]>;
  /**
   * Removes everything the store keeps about one handoff (snapshot with history, ledger, the
   * attempt logs of these destinations, aliases, index entries), for privacy requests.
   */
  erase(key: string, destinations: readonly string[]): Promise<EraseOutcome>;
}

const MAX_CAS_RETRIES = 20;
const INDEX_TRIM_INTERVAL_MS = 1000;
const DEFAULT_VERSION_FLOOR_RETENTION_MS = 400 * 24 * 3600 * 1000;
const DEFAULT_ALIAS_CLAIM_TTL_MS = 10_000;

// A claim is an alias value no handoff key can be: identifiers never contain control characters.
const CLAIM_MARK = "\u0000claim\u0000";
const isClaim = (value: string | null): boolean => value !== null && value.startsWith(CLAIM_MARK);

interface SettledKey {
  readonly key: string;
  /** The prefetched snapshot and floor of the key, when it was the one guessed. */
  readonly prefetched?: { json: string | null; floor: number };
  /** The event's alias keys that point to `key`. */
  readonly aliasKeys: readonly string[];
  /** Alias keys this settlement set just now, with the handoff's retention: no refresh needed. */
  readonly freshAliasKeys: ReadonlySet<string>;
  readonly conflicts: readonly AliasConflict[];
}

export function createHandoffStore(settings: HandoffStoreSettings): HandoffStore {
  const { redis, retentionMs } = settings;
  const keys = createKeyLayout(settings.prefix);
  const maxAttemptLog = settings.maxAttemptLog ?? 25;
  const floorRetentionMs = settings.versionFloorRetentionMs ?? DEFAULT_VERSION_FLOOR_RETENTION_MS;
  const claimTtlMs = settings.aliasClaimTtlMs ?? DEFAULT_ALIAS_CLAIM_TTL_MS;
  // The floor must outlive the snapshot; without retention the snapshot never expires and only
  // an erasure writes a floor.
  const floorTtlOnApply = retentionMs <= 0 ? -1 : floorRetentionMs > 0 ? retentionMs + floorRetentionMs : 0;
  const scripts = createScriptRunner(redis);

  const parseSnapshot = (json: string | null): HandoffSnapshot | undefined =>
    json === null ? undefined : HandoffSnapshotSchema.parse(JSON.parse(json));
  const readSnapshot = async (key: string): Promise<HandoffSnapshot | undefined> =>
    parseSnapshot(await redis.hget(keys.snapshot(key), "json"));
  const readFloor = async (key: string): Promise<number> =>
    Number(await scripts.run(VERSION_FLOOR, [keys.versionFloor(key), keys.ledger(key)], []));
  /** The snapshot's JSON, or null and the floor: one script call instead of an HGET and a floor read. */
  const readForApply = async (key: string): Promise<{ json: string | null; floor: number }> => {
    const reply = await scripts.run(
      READ_FOR_APPLY,
      [keys.snapshot(key), keys.versionFloor(key), keys.ledger(key)],
      [],
    );
    const [json, floor] = Array.isArray(reply) ? (reply as unknown[]) : [];
    // Lua's false arrives as null.
    return typeof json === "string" ? { json, floor: 0 } : { json: null, floor: Number(floor ?? 0) };
  };

  const releaseClaims = (claimed: readonly string[], claim: string): Promise<unknown[]> =>
    Promise.all(claimed.map((aliasKey) => scripts.run(RELEASE_ALIAS, [aliasKey], [claim])));

  /**
   * Sets the aliases a resolution asks for, all or none (docs/decisions/0011-alias-claims.md).
   * One alias is set with SET NX: winning it decides, losing it means resolving again. Several
   * live in several slots, so they are first claimed (SET NX of a claim value others wait on),
   * then, all claims won, committed; a lost claim releases the others before anyone used them.
   */
  const setAliases = async (assignments: readonly AliasAssignment[]): Promise<Set<string> | false> => {
    const ttl = retentionMs > 0 ? retentionMs : 0;
    const only = assignments.length === 1 ? assignments[0] : undefined;
    if (only !== undefined) {
      const aliasKey = keys.alias(only.kind, only.value);
      const set =
        ttl > 0
          ? await redis.set(aliasKey, only.key, "PX", ttl, "NX")
          : await redis.set(aliasKey, only.key, "NX");
      if (set !== null) return new Set([aliasKey]);
      // Someone else set it to the same handoff: it stands, but with their expiry, not ours.
      return (await redis.get(aliasKey)) === only.key ? new Set() : false;
    }
    const claim = `${CLAIM_MARK}${randomBytes(9).toString("base64url")}`;
    const aliasKeys = assignments.map((a) => keys.alias(a.kind, a.value));
    const won = await Promise.all(
      aliasKeys.map((aliasKey) => redis.set(aliasKey, claim, "PX", claimTtlMs, "NX")),
    );
    const claimed = aliasKeys.filter((_, i) => won[i] !== null);
    if (claimed.length < aliasKeys.length) {
      await releaseClaims(claimed, claim);
      return false;
    }
    const committed = await Promise.all(
      assignments.map((a, i) => scripts.run(COMMIT_ALIAS, [aliasKeys[i] ?? ""], [claim, a.key, String(ttl)])),
    );
    // Only a stall longer than the claim's lifetime gets here; resolving again sees what was
    // committed and treats the rest as any later event would.
    return committed.every((c) => c === 1) ? new Set(aliasKeys) : false;
  };

  /**
   * Settles the event's key. With `prefetch`, the snapshot and floor of the key the event most
   * likely resolves to are read in the same round trip as the aliases; they are only a first guess
   * for the compare-and-set, which rejects them if the handoff changed meanwhile.
   */
  /**
   * What a resolution means for the event's own aliases: those left pointing to another handoff
   * (conflicts, decision 0003) and those that point to the resolved key.
   */
  const aliasesOf = (
    event: HandoffEvent,
    resolution: ReturnType<typeof resolveHandoffKey>,
  ): { conflicts: AliasConflict[]; aliasKeys: string[] } => {
    const { key } = resolution;
    const conflicting = new Set(resolution.conflicts.map((c) => keys.alias(c.kind, c.value)));
    const eventAliases = [
      keys.alias("id", event.id),
      ...(event.shared_id === undefined ? [] : [keys.alias("shared_id", event.shared_id)]),
    ];
    return {
      conflicts: resolution.conflicts.map((c) => ({ kind: c.kind, value: c.value, aliasedTo: c.key, key })),
      aliasKeys: eventAliases.filter((aliasKey) => !conflicting.has(aliasKey)),
    };
  };
  /** The merge's settings for one apply. */
  const mergeContext = (context: ApplyContext): Parameters<typeof applyEvent>[2] => ({
    catalogue: context.catalogue,
    receivedAt: context.receivedAt,
    ...(settings.maxHistory ? { maxHistory: settings.maxHistory } : {}),
  });

  const settleKey = async (event: HandoffEvent, prefetch: boolean): Promise<SettledKey> => {
    const candidate = event.shared_id ?? event.id;
    const sharedAlias = event.shared_id === undefined ? undefined : keys.alias("shared_id", event.shared_id);
    const idAlias = keys.alias("id", event.id);
    // Waiting on another consumer's claim is bounded by the claim's lifetime.
    const waitUntil = Date.now() + claimTtlMs + 2000;
    for (let attempt = 0; attempt < MAX_CAS_RETRIES;) {
      const [bySharedId, byId, guess] = await Promise.all([
        sharedAlias === undefined ? Promise.resolve(null) : redis.get(sharedAlias),
        redis.get(idAlias),
        prefetch && attempt === 0 ? readForApply(candidate) : Promise.resolve(undefined),
      ]);
      if (isClaim(bySharedId) || isClaim(byId)) {
        // Another consumer is setting these aliases right now: its outcome decides ours.
        if (Date.now() > waitUntil) break;
        await sleep(2 + Math.floor(Math.random() * 10));
        continue;
      }
      attempt++;
      const aliases: { bySharedId?: string; byId?: string } = {};
      if (bySharedId !== null) aliases.bySharedId = bySharedId;
      if (byId !== null) aliases.byId = byId;
      const resolution = resolveHandoffKey(event, aliases);
      const freshAliasKeys =
        resolution.setAliases.length > 0 ? await setAliases(resolution.setAliases) : new Set<string>();
      if (freshAliasKeys === false) {
        // Lost to another consumer: back off a little so two claimers do not keep colliding.
        await sleep(Math.floor(Math.random() * 5 * attempt));
        continue;
      }
      const { key } = resolution;
      const { conflicts, aliasKeys } = aliasesOf(event, resolution);
      const guessed = guess !== undefined && key === candidate ? { prefetched: guess } : {};
      return { key, aliasKeys, conflicts, freshAliasKeys, ...guessed };
    }
    throw new StoreConflictError(`could not settle the key of conversation ${event.id}`);
  };
  const resolveKey = async (event: HandoffEvent): Promise<string> => (await settleKey(event, false)).key;

  // Index entries outside a handoff's slot cannot share its script; they are written after the
  // snapshot and are idempotent, so a crash in between only leaves a handoff out of a backfill.
  let indexTrimmedAt = 0;
  /** Trims the index once a second per process: enough to keep it within the retention window. */
  /** The index's lower bound when a trim is due (at most once a second per process), else undefined. */
  const indexTrimDue = (): string | undefined => {
    const nowMs = Date.now();
    if (retentionMs <= 0 || nowMs - indexTrimmedAt < INDEX_TRIM_INTERVAL_MS) return undefined;
    indexTrimmedAt = nowMs;
    return `(${nowMs - retentionMs}`;
  };
  const trimIndexWhenDue = async (): Promise<void> => {
    const below = indexTrimDue();
    if (below !== undefined) await redis.zremrangebyscore(keys.handoffIndex(), "-inf", below);
  };
  const indexSnapshot = async (snapshot: HandoffSnapshot, created: boolean): Promise<void> => {
    const index = keys.handoffIndex();
    const pipeline = redis.pipeline();
    if (created) {
      pipeline.zadd(index, "NX", Date.parse(snapshot.created_at), snapshot.key);
      // The index covers the retention window; older entries would only point at expired handoffs.
      // Trimming once a second per process keeps it there without a command per new handoff.
      const below = indexTrimDue();
      if (below !== undefined) pipeline.zremrangebyscore(index, "-inf", below);
    }
    const customerId = customerIdOf(snapshot.data);
    if (customerId !== undefined) {
      pipeline.sadd(keys.customerIndex(customerId), snapshot.key);
      if (retentionMs > 0) pipeline.pexpire(keys.customerIndex(customerId), retentionMs);
    }
    if (pipeline.length > 0) await pipeline.exec();
  };

  /** The alias keys a snapshot names; data written before the alias set existed is found this way. */
  const aliasKeysOf = (snapshot: HandoffSnapshot | undefined): string[] => {
    const found = new Set<string>();
    if (snapshot === undefined) return [];
    found.add(keys.alias("id", snapshot.id));
    if (snapshot.shared_id !== undefined) found.add(keys.alias("shared_id", snapshot.shared_id));
    for (const entry of snapshot.history) {
      found.add(keys.alias("id", entry.id));
      if (entry.shared_id !== undefined) found.add(keys.alias("shared_id", entry.shared_id));
    }
    return [...found];
  };

  /**
   * The apply any topology can run: aliases in other slots are claimed and committed one by one
   * (decision 0011), then the snapshot is compare-and-set in its own slot.
   */
  const applyAcrossSlots = async (event: HandoffEvent, context: ApplyContext): Promise<ApplyOutcome> => {
    const settled = await settleKey(event, true);
    const { key, conflicts } = settled;
    let prefetched = settled.prefetched;
    const ctx = mergeContext(context);
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      const current = prefetched === undefined ? await readSnapshot(key) : parseSnapshot(prefetched.json);
      // A new lifetime continues above every version the handoff had before (decision 0012).
      const floor =
        current !== undefined ? 0 : prefetched !== undefined ? prefetched.floor : await readFloor(key);
      prefetched = undefined;
      const merged = mergeAndSerialise(current, event, key, ctx, context.maxSnapshotBytes, floor);
      if ("duplicate" in merged) return { ...merged.result, key, conflicts };
      const { result, snapshot, json } = merged;
      const aliasKeys = [...new Set([...settled.aliasKeys, ...aliasKeysOf(current)])];
      const written = await scripts.run(
        CAS_SNAPSHOT,
        [keys.snapshot(key), keys.versionFloor(key), keys.ledger(key), keys.aliasSet(key)],
        [
          String(current?.version ?? 0),
          String(snapshot.version),
          json,
          String(retentionMs),
          String(floorTtlOnApply),
          ...aliasKeys,
        ],
      );
      if (Array.isArray(written)) {
        const allAliases = written.slice(1).map(String);
        // Index entries and alias expiry are idempotent follow-ups in other slots: one round trip.
        await Promise.all([
          indexSnapshot(snapshot, current === undefined),
          // Every alias lives as long as the handoff it points to, not only the event's; the ones
          // this apply set carry that retention already.
          ...(retentionMs > 0
            ? allAliases
                .filter((aliasKey) => !settled.freshAliasKeys.has(aliasKey))
                .map((aliasKey) => scripts.run(REFRESH_ALIAS, [aliasKey], [key, String(retentionMs)]))
            : []),
        ]);
        return { ...result, snapshot, key, conflicts };
      }
    }
    throw new StoreConflictError(`handoff ${key} changed concurrently ${MAX_CAS_RETRIES} times`);
  };

  /**
   * On a single Redis every key is reachable from one script, so an apply is two calls whatever the
   * event sets (decision 0060): one reads the aliases with the likely snapshot, the other sets the
   * new aliases (only where none appeared meanwhile), compare-and-sets the snapshot and writes the
   * index entries together. A claim left by a consumer of the slot-by-slot protocol (a rolling
   * upgrade) hands the event to that protocol, which waits for it.
   */
  const applyOnOneNode = async (event: HandoffEvent, context: ApplyContext): Promise<ApplyOutcome> => {
    const candidate = event.shared_id ?? event.id;
    const sharedAlias = event.shared_id === undefined ? undefined : keys.alias("shared_id", event.shared_id);
    const idAlias = keys.alias("id", event.id);
    const ctx = mergeContext(context);
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      const reply = await scripts.run(
        READ_ON_ONE_NODE,
        [
          ...(sharedAlias === undefined ? [] : [sharedAlias]),
          idAlias,
          keys.snapshot(candidate),
          keys.versionFloor(candidate),
          keys.ledger(candidate),
        ],
        [sharedAlias === undefined ? "0" : "1"],
      );
      const [bySharedId, byId, guessJson, guessFloor] = Array.isArray(reply) ? (reply as unknown[]) : [];
      const aliases: { bySharedId?: string; byId?: string } = {};
      if (typeof bySharedId === "string") aliases.bySharedId = bySharedId;
      if (typeof byId === "string") aliases.byId = byId;
      if (isClaim(aliases.bySharedId ?? null) || isClaim(aliases.byId ?? null))
        return applyAcrossSlots(event, context);
      const resolution = resolveHandoffKey(event, aliases);
      const { key } = resolution;
      const read =
        key === candidate
          ? { json: typeof guessJson === "string" ? guessJson : null, floor: Number(guessFloor ?? 0) }
          : await readForApply(key);
      const current = parseSnapshot(read.json);
      const merged = mergeAndSerialise(
        current,
        event,
        key,
        ctx,
        context.maxSnapshotBytes,
        current ? 0 : read.floor,
      );
      const { conflicts, aliasKeys } = aliasesOf(event, resolution);
      if ("duplicate" in merged) return { ...merged.result, key, conflicts };
      const { result, snapshot, json } = merged;
      const toSet = resolution.setAliases.map((a) => keys.alias(a.kind, a.value));
      const toRecord = [...new Set([...aliasKeys, ...aliasKeysOf(current)])];
      const created = current === undefined;
      const customerId = customerIdOf(snapshot.data);
      const written = await scripts.run(
        APPLY_ON_ONE_NODE,
        [
          keys.snapshot(key),
          keys.versionFloor(key),
          keys.ledger(key),
          keys.aliasSet(key),
          keys.handoffIndex(),
          customerId === undefined ? keys.handoffIndex() : keys.customerIndex(customerId),
          ...toSet,
          ...toRecord,
        ],
        [
          String(current?.version ?? 0),
          String(snapshot.version),
          json,
          String(retentionMs),
          String(floorTtlOnApply),
          key,
          created ? String(Date.parse(snapshot.created_at)) : "",
          customerId === undefined ? "0" : "1",
          String(toSet.length),
          String(toRecord.length),
        ],
      );
      if (written === 1) {
        if (created) await trimIndexWhenDue();
        return { ...result, snapshot, key, conflicts };
      }
      // 0: the snapshot changed, -1: an alias appeared; either way the next round reads both again.
      if (written === -1) await sleep(Math.floor(Math.random() * 5 * (attempt + 1)));
    }
    throw new StoreConflictError(`could not apply event ${event.event_id} of conversation ${event.id}`);
  };
  const oneNode = !isCluster(redis) && settings.crossSlotScripts !== false;

  return {
    keys,
    resolveKey,
    apply: (event, context) => (oneNode ? applyOnOneNode(event, context) : applyAcrossSlots(event, context)),
    get: readSnapshot,
    async findKey({ kind, value }) {
      const found = await redis.get(keys.alias(kind, value));
      // An alias being claimed is not decided yet: nothing to find until it is committed.
      return found === null || isClaim(found) ? undefined : found;
    },
    async getDelivery(key, destination) {
      const json = await redis.hget(keys.ledger(key), destination);
      return json === null ? undefined : LedgerEntrySchema.parse(JSON.parse(json));
    },
    async getDeliveries(key) {
      const all = await redis.hgetall(keys.ledger(key));
      return Object.fromEntries(
        Object.entries(all).map(([dest, json]) => [dest, LedgerEntrySchema.parse(JSON.parse(json))]),
      );
    },
    async recordDelivery(key, destination, entry, fence, options = {}) {
      const result = await scripts.run(
        RECORD_DELIVERY,
        [
          keys.ledger(key),
          keys.snapshot(key),
          keys.fence(key),
          keys.writeClaim(key, destination),
          ...(options.clearAttempts === true ? [keys.attempts(key, destination)] : []),
        ],
        [destination, String(entry.version), JSON.stringify(entry), fence ?? ""],
      );
      return result === 1 ? "recorded" : result === -1 ? "fenced" : "not_newer";
    },
    async beginDelivery(key, destination, token, options = {}) {
      const claimMs = options.claimWriteMs === undefined ? 0 : Math.max(1, Math.ceil(options.claimWriteMs));
      const reply = await scripts.run(
        BEGIN_DELIVERY,
        [keys.fence(key), keys.writeClaim(key, destination), keys.snapshot(key), keys.ledger(key)],
        [destination, token, String(retentionMs), String(claimMs)],
      );
      const [waitMs, snapshot, delivered, writeClaimed] = Array.isArray(reply) ? (reply as unknown[]) : [];
      const wait = Number(waitMs ?? 0);
      // Lua's false (no snapshot, no ledger entry) arrives as null.
      return {
        fence: wait > 0 ? { kind: "claimed", waitMs: wait } : { kind: "taken" },
        snapshot: typeof snapshot === "string" ? parseSnapshot(snapshot) : undefined,
        delivered: typeof delivered === "string" ? LedgerEntrySchema.parse(JSON.parse(delivered)) : undefined,
        writeClaimed: writeClaimed === 1,
      };
    },
    async takeFence(key, destination, token) {
      const waitMs = Number(
        await scripts.run(
          TAKE_FENCE,
          [keys.fence(key), keys.writeClaim(key, destination)],
          [destination, token, String(retentionMs)],
        ),
      );
      return waitMs > 0 ? { kind: "claimed", waitMs } : { kind: "taken" };
    },
    async claimWrite(key, destination, token, { version, ttlMs }) {
      const result = Number(
        await scripts.run(
          CLAIM_WRITE,
          [keys.fence(key), keys.writeClaim(key, destination), keys.ledger(key)],
          [destination, token, String(version), String(Math.max(1, Math.ceil(ttlMs)))],
        ),
      );
      if (result === -1) return { kind: "fenced" };
      return result > 0 ? { kind: "delivered", version: result } : { kind: "claimed" };
    },
    async releaseWrite(key, destination, token) {
      await scripts.run(RELEASE_WRITE, [keys.writeClaim(key, destination)], [token]);
    },
    async holdsFence(key, destination, token) {
      return (await redis.hget(keys.fence(key), destination)) === token;
    },
    async appendAttempt(key, destination, entry) {
      await scripts.run(
        APPEND_ATTEMPT,
        [keys.attempts(key, destination)],
        [JSON.stringify(entry), String(maxAttemptLog), String(retentionMs)],
      );
    },
    async getAttempts(key, destination) {
      const entries = await redis.lrange(keys.attempts(key, destination), 0, -1);
      return entries.map((json) => AttemptLogEntrySchema.parse(JSON.parse(json)));
    },
    async clearAttempts(key, destination) {
      await redis.del(keys.attempts(key, destination));
    },
    async keysCreatedBetween(fromMs, toMs, page = {}) {
      return redis.zrangebyscore(
        keys.handoffIndex(),
        fromMs,
        `(${toMs}`,
        "LIMIT",
        page.offset ?? 0,
        page.limit ?? 1000,
      );
    },
    async keysOfCustomer(customerId) {
      return (await redis.smembers(keys.customerIndex(customerId))).sort();
    },
    async erase(key, destinations) {
      const snapshot = await readSnapshot(key);
      const aliasKeys = new Set<string>([
        ...aliasKeysOf(snapshot),
        ...(await redis.smembers(keys.aliasSet(key))),
      ]);
      const customerIds = new Set<string>();
      if (snapshot) {
        const own = customerIdOf(snapshot.data);
        if (own !== undefined) customerIds.add(own);
        for (const entry of snapshot.history) {
          const named = customerIdOf(entry.data);
          if (named !== undefined) customerIds.add(named);
        }
      }
      aliasKeys.add(keys.alias("id", key));
      aliasKeys.add(keys.alias("shared_id", key));
      // An alias is removed only while it still points at this handoff: another handoff's stays.
      const owned: string[] = [];
      for (const aliasKey of aliasKeys) if ((await redis.get(aliasKey)) === key) owned.push(aliasKey);
      // The floor stays: it holds one number and no personal data, and keeps a returning
      // handoff's versions above what the CRMs already have (decision 0012). Removing the fence
      // also fences out a delivery still running: it can no longer write the ledger.
      const handoffKeys = [
        keys.snapshot(key),
        keys.versionFloor(key),
        keys.ledger(key),
        keys.enrichment(key),
        keys.aliasSet(key),
        keys.fence(key),
        ...destinations.map((d) => keys.attempts(key, d)),
      ];
      const deleted = Number(await scripts.run(ERASE_HANDOFF, handoffKeys, [String(floorRetentionMs)]));
      // One DEL per alias: each lives in a slot of its own (a multi-key DEL is CROSSSLOT on a cluster).
      const aliases = (await Promise.all(owned.map((aliasKey) => redis.del(aliasKey)))).reduce(
        (sum, n) => sum + n,
        0,
      );
      const pipeline = redis.pipeline().zrem(keys.handoffIndex(), key);
      for (const customerId of customerIds) pipeline.srem(keys.customerIndex(customerId), key);
      await pipeline.exec();
      return { key, deletedKeys: deleted + aliases, aliases, customerIds: customerIds.size };
    },
  };
}
