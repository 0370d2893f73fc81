import { createHash } from "node:crypto";
import type { Logger } from "@handoff-sync/telemetry";
import type { RedisClient } from "@handoff-sync/store";
import { z } from "zod";

export const AuditEntrySchema = z.object({
  /** The stream entry id: time-ordered, usable as a paging cursor. */
  id: z.string(),
  at: z.string(),
  /** The API key name (or CLI operator) that acted. */
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  outcome: z.enum(["ok", "dry_run", "failed"]),
  details: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
export type AuditRecord = Omit<AuditEntry, "id" | "at">;

export interface AuditLog {
  record(entry: AuditRecord): Promise<AuditEntry>;
  /** Newest first; `before` is an entry id from a previous page (exclusive). */
  list(page?: {
    limit?: number;
    before?: string;
  }): Promise<{ entries: AuditEntry[]; next_before: string | null }>;
  /** Deletes the entries whose target or details contain any of these values; returns how many. */
  eraseMentions(values: readonly string[]): Promise<number>;
}

export interface AuditLogSettings {
  readonly redis: RedisClient;
  /** The stream key, `<prefix>:{idx}:audit`. */
  readonly key: string;
  readonly log: Logger;
  /** Approximate cap of the stream; older entries are trimmed by Redis. */
  readonly maxLength?: number;
  readonly now?: () => Date;
}

/** A stand-in for an identifier that must not be kept, e.g. the target of an erasure. */
export function fingerprint(value: string): string {
  return `sha256:${createHash("sha256").update(value).digest("hex").slice(0, 16)}`;
}

function toEntry(id: string, fields: string[]): AuditEntry | undefined {
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i] ?? ""] = fields[i + 1] ?? "";
  const parsed = AuditEntrySchema.safeParse({
    id,
    at: map["at"],
    actor: map["actor"],
    action: map["action"],
    target: map["target"],
    outcome: map["outcome"],
    details: JSON.parse(map["details"] ?? "{}") as unknown,
  });
  return parsed.success ? parsed.data : undefined;
}

/**
 * Every operator action lands twice: as a log line (shipped with the service logs) and in a
 * capped Redis stream that the admin API lists, so "who replayed this?" has an answer without
 * log access.
 */
export function createAuditLog(settings: AuditLogSettings): AuditLog {
  const { redis, key } = settings;
  const log = settings.log.child({ component: "audit" });
  const maxLength = settings.maxLength ?? 100_000;
  const now = settings.now ?? (() => new Date());
  return {
    async record(entry) {
      const at = now().toISOString();
      const details = JSON.stringify(entry.details);
      const id = await redis.xadd(
        key,
        "MAXLEN",
        "~",
        maxLength,
        "*",
        "at",
        at,
        "actor",
        entry.actor,
        "action",
        entry.action,
        "target",
        entry.target,
        "outcome",
        entry.outcome,
        "details",
        details,
      );
      const full = { ...entry, id: id ?? "", at };
      log.info({ audit: full }, "admin action");
      return full;
    },
    async list(page = {}) {
      const limit = Math.max(1, Math.min(page.limit ?? 50, 1000));
      const end = page.before === undefined ? "+" : `(${page.before}`;
      const raw = await redis.xrevrange(key, end, "-", "COUNT", limit);
      const entries = raw
        .map(([id, fields]) => toEntry(id, fields))
        .filter((e): e is AuditEntry => e !== undefined);
      const last = raw.at(-1);
      return { entries, next_before: raw.length === limit && last ? last[0] : null };
    },
    async eraseMentions(values) {
      const needles = values.filter((v) => v !== "");
      if (needles.length === 0) return 0;
      let removed = 0;
      let start = "-";
      for (;;) {
        const raw = await redis.xrange(key, start, "+", "COUNT", 1000);
        const doomed = raw
          .filter(([, fields]) => {
            const text = fields.filter((_, i) => i % 2 === 1).join("\u0000");
            return needles.some((needle) => text.includes(needle));
          })
          .map(([id]) => id);
        if (doomed.length > 0) removed += await redis.xdel(key, ...doomed);
        const last = raw.at(-1);
        if (raw.length < 1000 || !last) return removed;
        start = `(${last[0]}`;
      }
    },
  };
}
