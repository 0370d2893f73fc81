import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { z } from "zod";

export const ScopeSchema = z.enum(["read", "operate", "admin", "ingest"]);
export type Scope = z.infer<typeof ScopeSchema>;

/**
 * Each operator scope includes the ones below it: an `admin` key may also operate and read.
 * `ingest` stands apart, in neither direction: a producer's key can post events and nothing else,
 * and an operator's key cannot post events.
 */
const RANK: Record<Exclude<Scope, "ingest">, number> = { read: 1, operate: 2, admin: 3 };

export interface ApiKey {
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** sha256 of the key: the key itself is not kept after start-up. */
  readonly digest: Buffer;
}

export interface Principal {
  readonly name: string;
  readonly scopes: readonly Scope[];
}

export class ApiKeysError extends Error {
  override readonly name = "ApiKeysError";
}

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

function parseEntry(name: string, scopes: string, key: string, where: string): ApiKey {
  if (!NAME.test(name))
    throw new ApiKeysError(`${where}: key name "${name}" must be 1-64 letters, digits, '_', '.', '@' or '-'`);
  const parsed = scopes
    .split(/[+,]/)
    .filter((s) => s !== "")
    .map((s) => ScopeSchema.safeParse(s));
  const bad = parsed.find((p) => !p.success);
  if (parsed.length === 0 || bad)
    throw new ApiKeysError(
      `${where}: scopes of "${name}" must be read, operate, admin or ingest joined by '+'`,
    );
  // Short keys can be guessed despite the slow-down; 16 characters is the floor.
  if (key.length < 16) throw new ApiKeysError(`${where}: the key of "${name}" is shorter than 16 characters`);
  return { name, scopes: parsed.flatMap((p) => (p.success ? [p.data] : [])), digest: digest(key) };
}

/** `name:scope+scope:key,...` as in HANDOFF_API_KEYS. */
export function parseApiKeysEnv(value: string): ApiKey[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry, index) => {
      const first = entry.indexOf(":");
      const second = entry.indexOf(":", first + 1);
      if (first < 0 || second < 0)
        throw new ApiKeysError(`HANDOFF_API_KEYS entry ${index + 1}: expected name:scopes:key`);
      return parseEntry(
        entry.slice(0, first),
        entry.slice(first + 1, second),
        entry.slice(second + 1),
        `HANDOFF_API_KEYS entry ${index + 1}`,
      );
    });
}

/** One `name scopes key` per line; blank lines and `#` comments are skipped. */
export function parseApiKeysFile(text: string, file: string): ApiKey[] {
  const keys: ApiKey[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) throw new ApiKeysError(`${file}:${index + 1}: expected "name scopes key"`);
    const [name = "", scopes = "", key = ""] = parts;
    keys.push(parseEntry(name, scopes, key, `${file}:${index + 1}`));
  });
  return keys;
}

export function assertUniqueNames(keys: readonly ApiKey[]): void {
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key.name))
      throw new ApiKeysError(`API key name "${key.name}" is used twice: audit entries must name one key`);
    seen.add(key.name);
  }
}

/**
 * Finds the key a client presented. Both sides are hashed to the same length and compared with
 * timingSafeEqual, and every key is compared, so timing tells nothing about how close a guess was
 * or which key matched.
 */
export function authenticate(keys: readonly ApiKey[], presented: string): Principal | undefined {
  const found = findKey(keys, presented);
  return found ? { name: found.name, scopes: found.scopes } : undefined;
}

/** The configured key a client presented, compared as `authenticate` does. */
export function findKey(keys: readonly ApiKey[], presented: string): ApiKey | undefined {
  const candidate = digest(presented);
  let found: ApiKey | undefined;
  for (const key of keys) {
    if (timingSafeEqual(key.digest, candidate) && found === undefined) found = key;
  }
  return found;
}

/**
 * What a queue UI session remembers of its key: a hash of the key's hash, so a Redis dump holds
 * nothing a guess could be checked against faster than through the API.
 */
export function keyFingerprint(key: ApiKey): string {
  return createHash("sha256")
    .update("handoff-sync session key\0")
    .update(key.digest)
    .digest("hex")
    .slice(0, 32);
}

/** The API keys in force; replaced whole when the keys file is reloaded. */
export interface KeyRing {
  current(): readonly ApiKey[];
}

/**
 * `HANDOFF_API_TRUST_PROXY`: `false`; a number of proxy hops in front of the api (`true` is one);
 * or the addresses and CIDR ranges of the proxies. Trusting every hop would take the client
 * address from the left end of X-Forwarded-For, which any client writes, so that is not offered.
 */
export type TrustProxy = false | number | readonly string[];

export function parseTrustProxy(value: string): TrustProxy | { problem: string } {
  const text = value.trim().toLowerCase();
  if (text === "false" || text === "0" || text === "") return false;
  if (text === "true") return 1;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    return hops <= 10 ? hops : { problem: "at most 10 proxy hops" };
  }
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const bad = entries.filter((entry) => {
    const [address = "", prefix, ...rest] = entry.split("/");
    const version = isIP(address);
    if (version === 0 || rest.length > 0) return true;
    if (prefix === undefined) return false;
    return !/^\d+$/.test(prefix) || Number(prefix) > (version === 4 ? 32 : 128);
  });
  if (bad.length > 0)
    return { problem: `not a hop count, true/false, or proxy addresses and CIDR ranges: ${bad.join(", ")}` };
  return entries;
}

export function hasScope(principal: Principal, required: Scope): boolean {
  if (required === "ingest") return principal.scopes.includes("ingest");
  return principal.scopes.some((scope) => scope !== "ingest" && RANK[scope] >= RANK[required]);
}

export interface FailureLimiterSettings {
  /** Failures within the window before a client is locked out. */
  readonly limit: number;
  readonly windowMs: number;
  readonly maxLockoutMs: number;
  /** Clients tracked at most; the oldest are forgotten first. */
  readonly maxClients?: number;
}

interface ClientFailures {
  failures: number[];
  lockedUntil: number;
}

export interface FailureLimiter {
  /** Milliseconds the client must wait before it may try a key again; 0 when it may. */
  lockedFor(client: string, nowMs: number): number;
  /** Counts a failed attempt; returns the lockout it started (0 when none). */
  fail(client: string, nowMs: number): number;
}

/**
 * Counts invalid keys per client (an address, or every client together): after `limit` failures
 * within the window, that client's invalid keys are answered 429 with Retry-After for a lockout
 * that doubles with each further failure up to `maxLockoutMs`. Kept per API replica, in memory.
 */
export function createFailureLimiter(settings: FailureLimiterSettings): FailureLimiter {
  const clients = new Map<string, ClientFailures>();
  const maxClients = settings.maxClients ?? 10_000;
  return {
    lockedFor(client, nowMs) {
      const state = clients.get(client);
      return state ? Math.max(0, state.lockedUntil - nowMs) : 0;
    },
    fail(client, nowMs) {
      const state = clients.get(client) ?? { failures: [], lockedUntil: 0 };
      clients.delete(client);
      state.failures = [...state.failures.filter((at) => at > nowMs - settings.windowMs), nowMs];
      clients.set(client, state);
      if (clients.size > maxClients) {
        const oldest = clients.keys().next().value;
        if (oldest !== undefined) clients.delete(oldest);
      }
      const over = state.failures.length - settings.limit;
      if (over < 0) return 0;
      const lockout = Math.min(settings.maxLockoutMs, 1000 * 2 ** over);
      state.lockedUntil = nowMs + lockout;
      return lockout;
    },
  };
}
