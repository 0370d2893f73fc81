import type { ChatAttempt } from "@handoff-sync/ingest";
import type { RedisClient } from "@handoff-sync/store";
import { z } from "zod";

const ChatAttemptSchema = z.object({
  attempt: z.number().int().min(1),
  open: z.boolean(),
  shared_id: z.string().min(1).optional(),
  initiated_at_ms: z.number().int().optional(),
});

export interface ChatAttempts {
  get(conversationId: string): Promise<ChatAttempt | undefined>;
  set(conversationId: string, attempt: ChatAttempt): Promise<void>;
}

/**
 * A conversation's handoff attempt between its chat/respond and its chat/close, kept `ttlMs` after
 * the last request. Written only after Kafka acknowledged the event, so a 503 changes nothing.
 * A value that no longer parses (an older layout) reads as no attempt: the close is then skipped.
 */
export function createChatAttempts(
  redis: RedisClient,
  keyOf: (conversationId: string) => string,
  ttlMs: number,
): ChatAttempts {
  return {
    async get(conversationId) {
      const json = await redis.get(keyOf(conversationId));
      if (json === null) return undefined;
      const parsed = ChatAttemptSchema.safeParse(JSON.parse(json));
      return parsed.success ? parsed.data : undefined;
    },
    async set(conversationId, attempt) {
      await redis.set(keyOf(conversationId), JSON.stringify(attempt), "PX", ttlMs);
    },
  };
}
