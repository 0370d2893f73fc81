import { createHash } from "node:crypto";
import type { RedisClient } from "./redis-client.js";

// The highest version a handoff's floor or ledger names: its next lifetime starts above it.
// A ledger still holds the versions a destination has even when the floor is missing (data
// written before the floor existed).
const FLOOR_OF = `
local function floorOf(floorKey, ledgerKey)
  local floor = tonumber(redis.call('GET', floorKey) or '0') or 0
  for _, json in ipairs(redis.call('HVALS', ledgerKey)) do
    local ok, decoded = pcall(cjson.decode, json)
    if ok and type(decoded) == 'table' then
      local version = tonumber(decoded['version'])
      if version and version > floor then floor = version end
    end
  end
  return floor
end
`;

/**
 * What an apply starts from, in one call: the snapshot's JSON, or, when there is none, false and
 * the floor its new lifetime must start above. KEYS[1] snapshot, KEYS[2] floor, KEYS[3] ledger.
 * Returns {json} or {false, floor}.
 */
export const READ_FOR_APPLY = `${FLOOR_OF}
local json = redis.call('HGET', KEYS[1], 'json')
if json then return {json} end
return {false, floorOf(KEYS[2], KEYS[3])}
`;

/** The version floor of one handoff. KEYS[1] floor, KEYS[2] ledger. */
export const VERSION_FLOOR = `${FLOOR_OF}
return floorOf(KEYS[1], KEYS[2])
`;

/**
 * Compare-and-set of a snapshot: writes only when the stored version is the one the caller read,
 * so concurrent consumers never overwrite each other's history (optimistic concurrency without
 * WATCH, which would need a connection per caller). A new lifetime must start above the floor.
 * The ledger and the alias set expire with the snapshot; the floor outlives it.
 * KEYS[1] snapshot hash, KEYS[2] floor, KEYS[3] ledger, KEYS[4] alias set; ARGV expected version
 * ("0" when absent), new version, json, ttl ms, floor ttl ms (-1: keep no floor, 0: no expiry),
 * then the alias keys that point to this handoff.
 * Returns 0 when the caller's view was stale, else {1, every alias key of the handoff}.
 */
export const CAS_SNAPSHOT = `${FLOOR_OF}
local current = redis.call('HGET', KEYS[1], 'version') or '0'
if current ~= ARGV[1] then return 0 end
if current == '0' and tonumber(ARGV[2]) <= floorOf(KEYS[2], KEYS[3]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'json', ARGV[3])
local ttl = tonumber(ARGV[4])
local floorTtl = tonumber(ARGV[5])
if floorTtl > 0 then redis.call('SET', KEYS[2], ARGV[2], 'PX', floorTtl) elseif floorTtl == 0 then redis.call('SET', KEYS[2], ARGV[2]) end
for i = 6, #ARGV do redis.call('SADD', KEYS[4], ARGV[i]) end
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[4], ttl)
end
local aliases = redis.call('SMEMBERS', KEYS[4])
table.insert(aliases, 1, 1)
return aliases
`;

/**
 * On a single Redis, the first half of an apply in one call (decision 0060): the event's aliases,
 * then the snapshot of the key the event most likely resolves to, or the floor its new lifetime
 * must start above. Its keys span slots, so it never runs on a cluster.
 * KEYS: [shared_id alias when ARGV[1] is '1'], id alias, snapshot, floor, ledger.
 * Returns {shared alias value or false, id alias value or false, snapshot json or false, floor}.
 */
export const READ_ON_ONE_NODE = `${FLOOR_OF}
local bySharedId = false
local i = 1
if ARGV[1] == '1' then
  bySharedId = redis.call('GET', KEYS[1])
  i = 2
end
local byId = redis.call('GET', KEYS[i])
local json = redis.call('HGET', KEYS[i + 1], 'json')
if json then return {bySharedId, byId, json, 0} end
return {bySharedId, byId, false, floorOf(KEYS[i + 2], KEYS[i + 3])}
`;

/**
 * On a single Redis, the second half of an apply in one call (decision 0060): sets the event's new
 * aliases, all or none and only where none exists yet (a claim or another consumer's alias makes it
 * resolve again), compare-and-sets the snapshot as CAS_SNAPSHOT does, records the handoff's alias
 * keys, extends every alias that points to the handoff, and writes the index entries.
 * KEYS[1] snapshot, [2] floor, [3] ledger, [4] alias set, [5] handoff index, [6] customer index,
 * then ARGV[9] aliases to set, then ARGV[10] alias keys to record in the alias set.
 * ARGV: expected version ("0" when absent), new version, json, ttl ms, floor ttl ms, handoff key,
 * created_at ms ("" when not new), "1" to index the customer, aliases to set, alias keys to record.
 * Returns 1 when written, 0 when the snapshot changed meanwhile, -1 when an alias appeared.
 */
export const APPLY_ON_ONE_NODE = `${FLOOR_OF}
local toSet = tonumber(ARGV[9])
local toRecord = tonumber(ARGV[10])
for i = 1, toSet do
  if redis.call('EXISTS', KEYS[6 + i]) == 1 then return -1 end
end
local current = redis.call('HGET', KEYS[1], 'version') or '0'
if current ~= ARGV[1] then return 0 end
if current == '0' and tonumber(ARGV[2]) <= floorOf(KEYS[2], KEYS[3]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'json', ARGV[3])
local ttl = tonumber(ARGV[4])
local floorTtl = tonumber(ARGV[5])
if floorTtl > 0 then redis.call('SET', KEYS[2], ARGV[2], 'PX', floorTtl) elseif floorTtl == 0 then redis.call('SET', KEYS[2], ARGV[2]) end
local fresh = {}
for i = 1, toSet do
  local alias = KEYS[6 + i]
  if ttl > 0 then redis.call('SET', alias, ARGV[6], 'PX', ttl) else redis.call('SET', alias, ARGV[6]) end
  fresh[alias] = true
end
for i = 1, toRecord do redis.call('SADD', KEYS[4], KEYS[6 + toSet + i]) end
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[4], ttl)
  for _, alias in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    if not fresh[alias] and redis.call('GET', alias) == ARGV[6] then redis.call('PEXPIRE', alias, ttl) end
  end
end
if ARGV[7] ~= '' then redis.call('ZADD', KEYS[5], 'NX', ARGV[7], ARGV[6]) end
if ARGV[8] == '1' then
  redis.call('SADD', KEYS[6], ARGV[6])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[6], ttl) end
end
return 1
`;

/**
 * Erases one handoff's keys in its slot, first raising its floor to the highest version it had, so
 * the handoff can come back without its versions restarting below what the CRMs hold.
 * KEYS[1] snapshot, KEYS[2] floor, KEYS[3] ledger, KEYS[4..] further keys to delete; ARGV floor
 * ttl ms (0: no expiry). Returns the number of keys deleted.
 */
export const ERASE_HANDOFF = `${FLOOR_OF}
local floor = floorOf(KEYS[2], KEYS[3])
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0') or 0
if version > floor then floor = version end
local doomed = {KEYS[1], KEYS[3]}
for i = 4, #KEYS do table.insert(doomed, KEYS[i]) end
local deleted = redis.call('DEL', unpack(doomed))
if floor > 0 then
  if tonumber(ARGV[1]) > 0 then redis.call('SET', KEYS[2], floor, 'PX', ARGV[1]) else redis.call('SET', KEYS[2], floor) end
end
return deleted
`;

/**
 * Turns this caller's claim on an alias into the alias. KEYS[1] alias; ARGV claim, key, ttl ms.
 * Returns 0 when the claim is no longer there (it expired during a stall, and maybe another won).
 */
export const COMMIT_ALIAS = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
`;

/** Drops this caller's claim on an alias, and nothing else. KEYS[1] alias; ARGV claim. */
export const RELEASE_ALIAS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Extends an alias only while it points to this handoff. KEYS[1] alias; ARGV key, ttl ms. */
export const REFRESH_ALIAS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/**
 * Records a delivery only when its version is newer than the one recorded (the ledger never moves
 * backward) and, with a fencing token, only while that token is still the destination's latest:
 * a delivery that lost its lock to a newer one cannot record. The ledger lives exactly as long as
 * the snapshot; a handoff that expired or was erased meanwhile gets no ledger back (its floor keeps
 * the version). The write was answered, so the token's write claim ends, fenced or not.
 * KEYS[1] ledger hash, KEYS[2] snapshot, KEYS[3] fence hash, KEYS[4] write claim, KEYS[5] (optional)
 * the destination's attempt log, cleared unless fenced out (the delivery's attempts end with it);
 * ARGV destination, version, json, token ("" without fencing).
 * Returns 1 when recorded, 0 when a newer or equal version was already there or the handoff is
 * gone, -1 when fenced out.
 */
export const RECORD_DELIVERY = `
if ARGV[4] ~= '' and redis.call('GET', KEYS[4]) == ARGV[4] then redis.call('DEL', KEYS[4]) end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[4] then return -1 end
if KEYS[5] then redis.call('DEL', KEYS[5]) end
local ttl = redis.call('PTTL', KEYS[2])
if ttl == -2 then return 0 end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local decoded = cjson.decode(current)
  if tonumber(decoded['version']) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`;

/**
 * Makes a delivery the one (handoff, destination) may be written by: its token replaces any earlier
 * one, which is thereby fenced out. Not while an earlier delivery's write may still land (its claim
 * is live): a lookup made now could miss that write, so nothing is taken and the claim's remaining
 * life is returned. KEYS[1] fence hash, KEYS[2] write claim; ARGV destination, token, ttl ms.
 * Returns 0 when taken, else the claim's remaining ms.
 */
export const TAKE_FENCE = `
local claimed = redis.call('PTTL', KEYS[2])
if claimed > 0 and redis.call('GET', KEYS[2]) ~= ARGV[2] then return claimed end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 0
`;

/**
 * What a delivery starts with, in one call: takes the fence as TAKE_FENCE does (refused while another
 * token's write claim is live) and reads the snapshot's JSON and this destination's ledger entry.
 * With a claim ttl, it also claims the write as CLAIM_WRITE would, right after taking the fence: when
 * there is a snapshot and the ledger does not already hold its version (decision 0017), so the
 * delivery's first write needs no round trip of its own.
 * KEYS[1] fence hash, KEYS[2] write claim, KEYS[3] snapshot hash, KEYS[4] ledger hash; ARGV
 * destination, token, ttl ms, claim ttl ms (0: no claim). Returns {claim's remaining ms or 0,
 * snapshot json or false, ledger entry json or false, 1 when the write was claimed else 0}.
 */
export const BEGIN_DELIVERY = `
local waitMs = 0
local claimedWrite = 0
local claimed = redis.call('PTTL', KEYS[2])
local json = redis.call('HGET', KEYS[3], 'json')
local entry = redis.call('HGET', KEYS[4], ARGV[1])
if claimed > 0 and redis.call('GET', KEYS[2]) ~= ARGV[2] then
  waitMs = claimed
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  local claimTtl = tonumber(ARGV[4] or '0') or 0
  local version = json and tonumber(redis.call('HGET', KEYS[3], 'version'))
  if claimTtl > 0 and version then
    local delivered = entry and tonumber(cjson.decode(entry)['version'])
    if not (delivered and delivered >= version) then
      redis.call('SET', KEYS[2], ARGV[2], 'PX', claimTtl)
      claimedWrite = 1
    end
  end
end
return {waitMs, json, entry, claimedWrite}
`;

/**
 * The check before a CRM write, and the claim that write holds: refused when a later delivery took
 * the fence (-1) or the ledger already has this version (its version is returned); otherwise the
 * token claims the write for ttl ms (0). KEYS[1] fence hash, KEYS[2] write claim, KEYS[3] ledger
 * hash; ARGV destination, token, version, ttl ms.
 */
export const CLAIM_WRITE = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return -1 end
local current = redis.call('HGET', KEYS[3], ARGV[1])
if current then
  local delivered = tonumber(cjson.decode(current)['version'])
  if delivered >= tonumber(ARGV[3]) then return delivered end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
return 0
`;

/** Ends a write claim if the token still holds it. KEYS[1] write claim; ARGV token. */
export const RELEASE_WRITE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
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
export function createScriptRunner(redis: RedisClient): ScriptRunner {
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
