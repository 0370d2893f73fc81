/**
 * The Redis key layout (docs/decisions/0001-redis-key-layout.md). Everything about one handoff
 * shares the hash tag `{h:<key>}`, so its operations stay in one Redis Cluster slot.
 */
export interface KeyLayout {
  snapshot(key: string): string;
  ledger(key: string): string;
  attempts(key: string, destination: string): string;
  alias(kind: "shared_id" | "id", value: string): string;
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
    attempts: (key, destination) => `${tag(key)}:attempts:${destination}`,
    alias: (kind, value) => `${prefix}:{a:${kind === "shared_id" ? "s" : "i"}:${tagSafe(value)}}`,
  };
}
