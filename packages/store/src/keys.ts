/**
 * The Redis key layout (docs/decisions/0001-redis-key-layout.md). Everything about one handoff
 * shares the hash tag `{h:<key>}`, so its operations stay in one Redis Cluster slot.
 */
export interface KeyLayout {
  snapshot(key: string): string;
  ledger(key: string): string;
  /**
   * The highest version the handoff ever had, kept past its snapshot's expiry and its erasure so
   * a handoff that comes back continues above it (docs/decisions/0012-version-floor.md).
   */
  versionFloor(key: string): string;
  /** Set of the alias keys that point to this handoff, so every one keeps the handoff's retention. */
  aliasSet(key: string): string;
  attempts(key: string, destination: string): string;
  /** Hash destination -> fencing token of the one delivery that may write (the latest started). */
  fence(key: string): string;
  /**
   * The fencing token of the delivery whose write to this destination may still land (sent, no
   * answer yet, or the answer lost), with an expiry past the latest moment it could.
   */
  writeClaim(key: string, destination: string): string;
  /** The upstream Handoff API's `data` for one version of the handoff (enrichment cache). */
  enrichment(key: string): string;
  alias(kind: "shared_id" | "id", value: string): string;
  /** Sorted set of handoff keys scored by `created_at` (ms), for backfills by time range. */
  handoffIndex(): string;
  /** Set of the handoff keys whose `data.customer_id` was this value, for erasure requests. */
  customerIndex(customerId: string): string;
  /** Capped stream of the operator actions taken through the admin API and CLI. */
  audit(): string;
  /** An operator's queue UI session, by the hash of its id. */
  session(idHash: string): string;
  /** What HTTP ingestion remembers of a chat conversation between chat/respond and chat/close. */
  chatAttempt(conversationId: string): string;
  /** One API key's HTTP ingestion token bucket, shared by every api replica. */
  ingestRate(client: string): string;
}

// Braces inside a key would end the hash tag early and scatter one handoff over several slots.
function tagSafe(value: string): string {
  return value.replace(/[{}%]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function createKeyLayout(prefix: string): KeyLayout {
  const tag = (key: string): string => `${prefix}:{h:${tagSafe(key)}}`;
  return {
    snapshot: (key) => `${tag(key)}:snapshot`,
    ledger: (key) => `${tag(key)}:ledger`,
    versionFloor: (key) => `${tag(key)}:floor`,
    aliasSet: (key) => `${tag(key)}:aliases`,
    attempts: (key, destination) => `${tag(key)}:attempts:${destination}`,
    fence: (key) => `${tag(key)}:fence`,
    writeClaim: (key, destination) => `${tag(key)}:claim:${destination}`,
    enrichment: (key) => `${tag(key)}:enrichment`,
    alias: (kind, value) => `${prefix}:{a:${kind === "shared_id" ? "s" : "i"}:${tagSafe(value)}}`,
    // Indexes span handoffs, so they share one slot of their own instead of any handoff's.
    handoffIndex: () => `${prefix}:{idx}:handoffs`,
    customerIndex: (customerId) => `${prefix}:{idx}:customer:${tagSafe(customerId)}`,
    audit: () => `${prefix}:{idx}:audit`,
    session: (idHash) => `${prefix}:{idx}:session:${idHash}`,
    // One conversation per slot: chat requests of different conversations spread over the cluster.
    chatAttempt: (conversationId) => `${prefix}:{c:${tagSafe(conversationId)}}:chat`,
    ingestRate: (client) => `${prefix}:{r:${tagSafe(client)}}:ingest-rate`,
  };
}
