import type { RedisClient } from "@handoff-sync/store";
import { z } from "zod";
import { destinationQueueNames } from "./names.js";

/**
 * Why a destination is parked, which decides whether the probe may resume it by itself:
 * `auth` (credentials refused), `outage` (destination-wide failure of the CRM itself), `quota`
 * (429s for too long, or the account's daily allocation spent), `config` (unknown object or field, the same permanent error on many records),
 * `operator` (paused by hand: never resumed by the probe).
 */
export const ParkCauseSchema = z.enum(["auth", "outage", "quota", "config", "operator"]);
export type ParkCause = z.infer<typeof ParkCauseSchema>;

export const ParkRecordSchema = z.object({
  reason: z.string(),
  admin_hint: z.string(),
  parked_at: z.string(),
  /** Who parked it: `worker` for automatic parking, an API key name for an operator. */
  by: z.string(),
  /** Absent on records from before causes were kept: read as `config`, never resumed by itself. */
  cause: ParkCauseSchema.optional(),
  /** Not probed before this moment (a spent daily allocation's reset); absent: probed from the start. */
  resume_after: z.string().optional(),
});
export type ParkRecord = z.infer<typeof ParkRecordSchema>;

/** The last resume, kept so the operator loop can tell who resumed which park. */
export const ResumeRecordSchema = z.object({
  by: z.string(),
  at: z.string(),
  parked_at: z.string(),
  reason: z.string(),
});
export type ResumeRecord = z.infer<typeof ResumeRecordSchema>;

/**
 * Per-destination state beside the destination's queues (same hash tag): the park record, the
 * streak of identical permanent failures, and the start of a rate-limit streak.
 */
export interface DestinationState {
  readonly destination: string;
  getPark(): Promise<ParkRecord | undefined>;
  setPark(record: ParkRecord): Promise<void>;
  clearPark(): Promise<void>;
  getResumed(): Promise<ResumeRecord | undefined>;
  setResumed(record: ResumeRecord): Promise<void>;
  /** The start of the running 429 streak (ms), if one runs. */
  rateLimitStreak(): Promise<number | undefined>;
  /**
   * True for the first caller only, per notice id and for `ttlMs`: of several worker pods, one
   * sends each operational notice.
   */
  claimNotice(id: string, ttlMs: number): Promise<boolean>;
  /** Gives a claimed notice back (its sending failed), so the next look sends it again. */
  releaseNotice(id: string): Promise<void>;
  /** Counts a dead letter in the current window of `windowMs`; returns the window's count. */
  countDeadLetter(windowMs: number, nowMs: number): Promise<number>;
  /** Counts a record-level permanent failure; returns how many in a row had this signature. */
  countPermanentFailure(signature: string): Promise<number>;
  /** Marks the start of a rate-limit streak (kept if one is running); returns its start, ms. */
  rateLimitedSince(nowMs: number): Promise<number>;
  /** A success ends both streaks. */
  recordSuccess(): Promise<void>;
  /** Dead letters removed by retention, counted forever. */
  countPruned(count: number): Promise<number>;
  prunedCount(): Promise<number>;
}

// Keeps the failure streak and the park record in one hash: one round trip per outcome.
const COUNT_PERMANENT = `
local sig = redis.call('HGET', KEYS[1], 'failure_signature')
if sig == ARGV[1] then
  return redis.call('HINCRBY', KEYS[1], 'failure_count', 1)
end
redis.call('HSET', KEYS[1], 'failure_signature', ARGV[1], 'failure_count', 1)
return 1
`;

export function destinationStateKey(prefix: string, destination: string): string {
  return `${destinationQueueNames(prefix, destination).prefix}:state`;
}

export function createDestinationState(
  redis: RedisClient,
  prefix: string,
  destination: string,
): DestinationState {
  const key = destinationStateKey(prefix, destination);
  return {
    destination,
    async getPark() {
      const json = await redis.hget(key, "parked");
      return json === null ? undefined : ParkRecordSchema.parse(JSON.parse(json));
    },
    async setPark(record) {
      await redis.hset(key, "parked", JSON.stringify(record));
    },
    async clearPark() {
      await redis.hdel(key, "parked", "failure_signature", "failure_count", "ratelimit_since");
    },
    async getResumed() {
      const json = await redis.hget(key, "resumed");
      if (json === null) return undefined;
      const parsed = ResumeRecordSchema.safeParse(JSON.parse(json));
      return parsed.success ? parsed.data : undefined;
    },
    async setResumed(record) {
      await redis.hset(key, "resumed", JSON.stringify(record));
    },
    async rateLimitStreak() {
      const since = await redis.hget(key, "ratelimit_since");
      return since === null ? undefined : Number(since);
    },
    async claimNotice(id, ttlMs) {
      return (await redis.set(`${key}:notice:${id}`, "1", "PX", ttlMs, "NX")) === "OK";
    },
    async releaseNotice(id) {
      await redis.del(`${key}:notice:${id}`);
    },
    async countDeadLetter(windowMs, nowMs) {
      const windowKey = `${key}:dead:${Math.floor(nowMs / windowMs)}`;
      const [[, count]] = (await redis
        .multi()
        .incr(windowKey)
        .pexpire(windowKey, windowMs * 2)
        .exec()) as [[Error | null, number], [Error | null, number]];
      return Number(count);
    },
    async countPermanentFailure(signature) {
      return Number(await redis.eval(COUNT_PERMANENT, 1, key, signature));
    },
    async rateLimitedSince(nowMs) {
      await redis.hsetnx(key, "ratelimit_since", String(nowMs));
      return Number((await redis.hget(key, "ratelimit_since")) ?? nowMs);
    },
    async recordSuccess() {
      await redis.hdel(key, "failure_signature", "failure_count", "ratelimit_since");
    },
    async countPruned(count) {
      return redis.hincrby(key, "dead_letters_pruned", count);
    },
    async prunedCount() {
      return Number((await redis.hget(key, "dead_letters_pruned")) ?? 0);
    },
  };
}
