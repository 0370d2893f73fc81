import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import { ScopeSchema, type Principal } from "./auth.js";

const SessionSchema = z.object({ name: z.string(), scopes: z.array(ScopeSchema), created_at: z.string() });

export interface SessionStore {
  create(principal: Principal): Promise<string>;
  get(id: string): Promise<Principal | undefined>;
  destroy(id: string): Promise<void>;
}

/**
 * Queue UI sessions: a random id in the cookie, and in Redis only its hash, so a Redis dump holds
 * no usable session. They expire on their own after `ttlMs`.
 */
export function createSessionStore(redis: Redis, keyOf: (idHash: string) => string, ttlMs: number): SessionStore {
  const key = (id: string): string => keyOf(createHash("sha256").update(id).digest("hex"));
  return {
    async create(principal) {
      const id = randomBytes(32).toString("base64url");
      await redis.set(key(id), JSON.stringify({ name: principal.name, scopes: principal.scopes, created_at: new Date().toISOString() }), "PX", ttlMs);
      return id;
    },
    async get(id) {
      if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
      const json = await redis.get(key(id));
      const parsed = json === null ? undefined : SessionSchema.safeParse(JSON.parse(json));
      return parsed?.success ? { name: parsed.data.name, scopes: parsed.data.scopes } : undefined;
    },
    async destroy(id) {
      await redis.del(key(id));
    },
  };
}
