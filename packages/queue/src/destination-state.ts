import type { RedisClient } from "@handoff-sync/store";
import { z } from "zod";
import { destinationQueueNames } from "./names.js";

export const ParkRecordSchema = z.object({
  reason: z.string(),
  admin_hint: z.string(),
  parked_at: z.string(),
  /** Who parked it: `worker` for automatic parking, an API key name for an operator. */
  by: z.string(),
});
export type ParkRecord = z.infer<typeof ParkRecordSchema>;

/**
 * Per-destination state beside the destination's queues (same hash tag): the park record, the
 * streak of identical permanent failures, and the start of a rate-limit streak.
 */
export interface DestinationState {
  readonly destination: string;
  getPark(): Promise<ParkRecord | undefined>;
  setPark(record: ParkRecord): Promise<void>;
  clearPark(): Promise<void>;
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
