import type { HandoffEvent } from "./events.js";

export interface ExistingAliases {
  /** The key the event's `shared_id` already points to, if any. */
  readonly bySharedId?: string | undefined;
  /** The key the event's `id` already points to, if any. */
  readonly byId?: string | undefined;
}

export type AliasKind = "shared_id" | "id";

export interface AliasAssignment {
  readonly kind: AliasKind;
  readonly value: string;
  readonly key: string;
}

export interface ResolvedKey {
  readonly key: string;
  /** Aliases the store must create (only those not already present), atomically with the apply. */
  readonly setAliases: AliasAssignment[];
  /** Existing aliases that point elsewhere: left alone, but worth a log line and a metric. */
  readonly conflicts: AliasAssignment[];
}

/**
 * Picks the handoff an event belongs to.
 *
 * 1. The event's `shared_id` already has an alias: that key.
 * 2. Else its `id` has one: that key. A handoff first seen by `id` keeps its key when a later event adds
 *    a `shared_id`, so one conversation never becomes two handoffs and CRM external ids stay stable.
 * 3. Else a new handoff keyed `shared_id ?? id`.
 *
 * Aliases are never moved once set: moving one would split a handoff's history.
 */
export function resolveHandoffKey(
  event: Pick<HandoffEvent, "id" | "shared_id">,
  aliases: ExistingAliases,
): ResolvedKey {
  const key = aliases.bySharedId ?? aliases.byId ?? event.shared_id ?? event.id;
  const setAliases: AliasAssignment[] = [];
  const conflicts: AliasAssignment[] = [];

  if (aliases.byId === undefined) setAliases.push({ kind: "id", value: event.id, key });
  else if (aliases.byId !== key) conflicts.push({ kind: "id", value: event.id, key: aliases.byId });

  if (event.shared_id !== undefined && aliases.bySharedId === undefined) {
    setAliases.push({ kind: "shared_id", value: event.shared_id, key });
  }
  return { key, setAliases, conflicts };
}

const hex4 = (unit: number): string => unit.toString(16).toUpperCase().padStart(4, "0");

/**
 * Encodes a handoff key for use inside BullMQ job ids, which may contain no ':' and must not be all
 * digits. `encodeURIComponent` escapes ':' and is injective; the `k` prefix rules out all-digit ids.
 * Lone surrogates, which `encodeURIComponent` throws on, become `%uXXXX`: plain escapes always have two
 * hex digits after '%', and 'u' is not one, so the encoding stays injective.
 */
export function jobIdPart(key: string): string {
  if (key.isWellFormed()) return `k${encodeURIComponent(key)}`;
  let out = "k";
  for (const char of key) {
    // Iterating by code point yields a lone surrogate as a one-unit string.
    out += char.isWellFormed() ? encodeURIComponent(char) : `%u${hex4(char.charCodeAt(0))}`;
  }
  return out;
}
