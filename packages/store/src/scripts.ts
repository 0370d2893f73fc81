import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * Compare-and-set of a snapshot: writes only when the stored version is the one the caller read,
 * so concurrent consumers never overwrite each other's history (optimistic concurrency without
 * WATCH, which would need a connection per caller).
 * KEYS[1] snapshot hash; ARGV expected version ("0" when absent), new version, json, ttl ms.
 */
export const CAS_SNAPSHOT = `
local current = redis.call('HGET', KEYS[1], 'version') or '0'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'json', ARGV[3])
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
`;

/**
 * Records a delivery only when its version is newer than the one recorded (the ledger never moves
 * backward) and, with a fencing token, only while that token is still the destination's latest:
 * a delivery that lost its lock to a newer one cannot record. KEYS[1] ledger hash, KEYS[2] fence
 * hash; ARGV destination, version, json, ttl ms, token ("" without fencing).
 * Returns 1 when recorded, 0 when a newer or equal version was already there, -1 when fenced out.
 */
export const RECORD_DELIVERY = `
if ARGV[5] ~= '' and redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[5] then return -1 end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local decoded = cjson.decode(current)
  if tonumber(decoded['version']) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
`;

/**
 * Makes a delivery the one (handoff, destination) may be written by: its token replaces any earlier
 * one, which is thereby fenced out. KEYS[1] fence hash; ARGV destination, token, ttl ms.
 */
export const TAKE_FENCE = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`;

/** Appends to a capped attempt log. KEYS[1] list; ARGV entry json, max length, ttl ms. */
export const APPEND_ATTEMPT = `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`;

export interface ScriptRunner {
  run(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
}

/**
 * Runs scripts by their SHA1 (EVALSHA), sending the source only when Redis does not know it yet
 * (after a restart or failover, NOSCRIPT): the hot paths then send a few arguments, not the script.
 */
export function createScriptRunner(redis: Redis): ScriptRunner {
  const shas = new Map<string, string>();
  return {
    async run(script, keys, args) {
      let sha = shas.get(script);
      if (sha === undefined) {
        sha = createHash("sha1").update(script).digest("hex");
        shas.set(script, sha);
      }
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        return redis.eval(script, keys.length, ...keys, ...args);
      }
    },
  };
}
