import { createHash, randomBytes } from "node:crypto";
import type { RedisClient } from "@handoff-sync/store";
import { z } from "zod";
import { ScopeSchema, type Principal } from "./auth.js";

// `key` is the fingerprint of the API key that signed in; sessions from before it was kept fail to
// parse and so end, which is the safe reading of a session whose key is unknown.
const SessionSchema = z.object({
  name: z.string(),
  scopes: z.array(ScopeSchema),
  key: z.string().min(1),
  created_at: z.string(),
});

/** A signed-in session: who, and which key (by `keyFingerprint`) it must still be configured for. */
export interface Session extends Principal {
  readonly key: string;
}

export interface SessionStore {
  create(session: Session): Promise<string>;
  get(id: string): Promise<Session | undefined>;
  destroy(id: string): Promise<void>;
}

/**
 * Queue UI sessions: a random id in the cookie, and in Redis only its hash, so a Redis dump holds
 * no usable session. They expire on their own after `ttlMs`.
 */
export function createSessionStore(
  redis: RedisClient,
  keyOf: (idHash: string) => string,
  ttlMs: number,
): SessionStore {
  const key = (id: string): string => keyOf(createHash("sha256").update(id).digest("hex"));
  return {
    async create(session) {
      const id = randomBytes(32).toString("base64url");
      await redis.set(
        key(id),
        JSON.stringify({
          name: session.name,
          scopes: session.scopes,
          key: session.key,
          created_at: new Date().toISOString(),
        }),
        "PX",
        ttlMs,
      );
      return id;
    },
    async get(id) {
      if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
      const json = await redis.get(key(id));
      const parsed = json === null ? undefined : SessionSchema.safeParse(JSON.parse(json));
      return parsed?.success
        ? { name: parsed.data.name, scopes: parsed.data.scopes, key: parsed.data.key }
        : undefined;
    },
    async destroy(id) {
      await redis.del(key(id));
    },
  };
}
