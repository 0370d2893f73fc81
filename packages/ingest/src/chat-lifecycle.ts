import { createHash } from "node:crypto";
import { normaliseChatRespond, type ChatRespondSettings, type Normalised } from "./normalise.js";

/**
 * The chat lifecycle as the seed describes it: a `chat/respond` answer with `end_conversation`
 * and a `handoff` starts a handoff; the `chat/close` that follows ends it, completed or, by a
 * configurable rule, failed. A later `chat/respond` with a handoff starts a new attempt (the
 * seed's `handoff_failed -> handoff_initiated`). Pure: what a conversation has open is passed in.
 */

/** What the edge remembers of a conversation between its chat/respond and its chat/close. */
export interface ChatAttempt {
  /** 1 for the first handoff of the conversation, counting up with each new one. */
  readonly attempt: number;
  /** A handoff was started and not yet closed. */
  readonly open: boolean;
  readonly shared_id?: string | undefined;
  /** When the open attempt was initiated (ms): a close is never ordered before it. */
  readonly initiated_at_ms?: number | undefined;
}

export interface ChatCloseSettings {
  readonly failed_when: { readonly path: string; readonly values: readonly string[] };
  readonly failed_state: string;
  readonly completed_state: string;
}

type Json = Readonly<Record<string, unknown>>;
const isObject = (value: unknown): value is Json =>
  value !== null && typeof value === "object" && !Array.isArray(value);

function at(payload: Json, path: string): unknown {
  let node: unknown = payload;
  for (const part of path.split(".")) {
    if (!isObject(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

/**
 * Event ids per (conversation, attempt, step): a re-posted chat/respond or chat/close of the same
 * attempt is the same event (applied once), and a retry after a failed transfer is a new one even
 * when its body is byte for byte the same.
 */
export function chatEventId(conversationId: string, attempt: number, step: "respond" | "close"): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([conversationId, attempt, step]))
    .digest("hex");
  return `chat-${digest}`;
}

export type ChatStep =
  | { readonly kind: "event"; readonly event: Record<string, unknown>; readonly next: ChatAttempt }
  | { readonly kind: "skip"; readonly why: string }
  | { readonly kind: "reject"; readonly error: string };

/**
 * A chat/respond answer. `sharedId` is the connector's, given beside the body (the Chat API's
 * answer has no field for it); the configured path in the body is used when it is absent.
 */
export function chatRespondStep(
  body: unknown,
  current: ChatAttempt | undefined,
  options: {
    readonly nowMs: number;
    readonly sharedId?: string | undefined;
    readonly settings: ChatRespondSettings;
  },
): ChatStep {
  const normalised: Normalised = normaliseChatRespond(body, { timestamp: options.nowMs }, options.settings);
  if (normalised.kind !== "event") return normalised;
  const event = { ...(normalised.event as Record<string, unknown>) };
  const conversationId = String(event["id"]);
  const attempt = current === undefined ? 1 : current.open ? current.attempt : current.attempt + 1;
  const sharedId = options.sharedId ?? (event["shared_id"] as string | undefined) ?? current?.shared_id;
  if (sharedId !== undefined) event["shared_id"] = sharedId;
  event["event_id"] = chatEventId(conversationId, attempt, "respond");
  // A re-post of the open attempt keeps its first instant, so it is the same event in every field.
  const initiatedAt = current?.open === true ? (current.initiated_at_ms ?? options.nowMs) : options.nowMs;
  event["occurred_at"] = new Date(initiatedAt).toISOString();
  return {
    kind: "event",
    event,
    next: {
      attempt,
      open: true,
      initiated_at_ms: initiatedAt,
      ...(sharedId !== undefined ? { shared_id: sharedId } : {}),
    },
  };
}

/**
 * A chat/close: ends the open handoff of its conversation, as failed when the body matches the
 * rule, else as completed. A close without an open handoff (a chat that never handed off, or a
 * close sent twice) is skipped: it has no handoff to end.
 */
export function chatCloseStep(
  body: unknown,
  current: ChatAttempt | undefined,
  options: {
    readonly nowMs: number;
    readonly sharedId?: string | undefined;
    readonly settings: ChatCloseSettings;
  },
): ChatStep {
  if (!isObject(body)) return { kind: "reject", error: "a chat/close body must be a JSON object" };
  const conversationId = body["conversation_id"];
  if (typeof conversationId !== "string" || conversationId.trim() === "")
    return { kind: "reject", error: "conversation_id: required (the conversation to close)" };
  if (current === undefined || !current.open)
    return { kind: "skip", why: "no handoff is open for this conversation" };
  const outcome = at(body, options.settings.failed_when.path);
  const failed = typeof outcome === "string" && options.settings.failed_when.values.includes(outcome);
  const sharedId = options.sharedId ?? current.shared_id;
  // Strictly after the initiation: history is ordered by occurred_at, and a tie would be decided
  // by event id, not by what happened first.
  const occurredMs = Math.max(options.nowMs, (current.initiated_at_ms ?? 0) + 1);
  return {
    kind: "event",
    event: {
      event_id: chatEventId(conversationId, current.attempt, "close"),
      id: conversationId,
      ...(sharedId !== undefined ? { shared_id: sharedId } : {}),
      state: failed ? options.settings.failed_state : options.settings.completed_state,
      occurred_at: new Date(occurredMs).toISOString(),
      // In data, not `reason`: the reason the handoff started keeps routing it.
      data: typeof outcome === "string" ? { transfer_outcome: outcome } : {},
    },
    next: { ...current, open: false },
  };
}
