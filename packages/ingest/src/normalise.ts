import { createHash } from "node:crypto";
import { decodeUserToUser, readUuiContent, type UuiFormat } from "./sip.js";

/**
 * How one input format becomes a handoff event. These mirror the destinations file's `source`
 * settings structurally, so this package needs no dependency on the config package.
 */
export interface ChatRespondSettings {
  readonly state: string;
  readonly channel?: string | undefined;
  /** Dotted path of the shared id in the payload. */
  readonly shared_id?: string | undefined;
  /** data field -> dotted path in the payload. */
  readonly data: Readonly<Record<string, string>>;
}

export interface SipHeaderSettings {
  readonly id: string;
  readonly shared_id?: string | undefined;
  readonly state?: string | undefined;
  readonly default_state?: string | undefined;
  readonly event_id?: string | undefined;
  readonly occurred_at?: string | undefined;
  readonly channel?: string | undefined;
  readonly destination?: string | undefined;
  readonly reason?: string | undefined;
  /** data field -> header name. */
  readonly data: Readonly<Record<string, string>>;
  /** SIP method -> state, used when the state header is absent. */
  readonly methods?: Readonly<Record<string, string>> | undefined;
  /** Decode this header per RFC 7433; names `uui` and `uui.<key>` then read its content. */
  readonly user_to_user?: { readonly header: string; readonly format: UuiFormat } | undefined;
}

export type InputFormat = "handoff_event" | "chat_respond" | "sip_headers";

export interface InputSettings {
  readonly format: InputFormat;
  readonly chat_respond?: ChatRespondSettings | undefined;
  readonly sip_headers?: SipHeaderSettings | undefined;
}

/** What the Kafka record adds to the payload: its timestamp stands in for a missing `occurred_at`. */
export interface RecordContext {
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  /** The SIP request's method, when the record came as a SIP request (HTTP ingestion). */
  readonly method?: string | undefined;
}

export type Normalised =
  | { readonly kind: "event"; readonly event: unknown }
  /** Not a handoff (a chat turn without one): counted, neither applied nor rejected. */
  | { readonly kind: "skip"; readonly why: string }
  | { readonly kind: "reject"; readonly error: string };

const DEFAULT_CHAT_RESPOND: ChatRespondSettings = { state: "handoff_initiated", data: {} };

type Json = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** JSON with object keys sorted at every depth: the same content hashes the same however it was formatted. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * A deterministic event id for payloads that carry none: a redelivered or re-sent identical payload
 * gets the same id and is applied once. `-` rather than `:` keeps it safe inside BullMQ job ids.
 */
export function derivedEventId(payload: unknown): string {
  return `sha256-${createHash("sha256").update(canonicalJson(payload)).digest("hex")}`;
}

function occurredAtOf(context: RecordContext): string | { error: string } {
  if (!Number.isFinite(context.timestamp) || context.timestamp <= 0) {
    return { error: "occurred_at: missing, and the Kafka record has no timestamp to derive it from" };
  }
  return new Date(context.timestamp).toISOString();
}

function at(payload: Json, path: string): unknown {
  let node: unknown = payload;
  for (const part of path.split(".")) {
    if (!isObject(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

const nonEmpty = (value: unknown): value is string => typeof value === "string" && value.trim() !== "";

/**
 * A Chat API `chat/respond` payload is a handoff only when `end_conversation` is true and a
 * `handoff` object is present; any other turn is skipped, not rejected. The conversation id is
 * the event's `id`; the handoff's `destination` and `reason` become the event's labels.
 */
export function normaliseChatRespond(
  payload: unknown,
  context: RecordContext,
  settings: ChatRespondSettings = DEFAULT_CHAT_RESPOND,
): Normalised {
  if (!isObject(payload)) return { kind: "reject", error: "a chat/respond payload must be a JSON object" };
  if (
    payload["end_conversation"] !== true ||
    payload["handoff"] === undefined ||
    payload["handoff"] === null
  ) {
    return { kind: "skip", why: "chat/respond payload without a handoff" };
  }
  const handoff = payload["handoff"];
  if (!isObject(handoff))
    return { kind: "reject", error: "handoff: must be an object with destination and reason" };
  const id = payload["conversation_id"];
  if (!nonEmpty(id)) return { kind: "reject", error: "conversation_id: required (the handoff's id)" };
  for (const label of ["destination", "reason"] as const) {
    const value = handoff[label];
    if (value !== undefined && typeof value !== "string")
      return { kind: "reject", error: `handoff.${label}: must be a string` };
  }
  const occurredAt = occurredAtOf(context);
  if (typeof occurredAt !== "string") return { kind: "reject", error: occurredAt.error };
  const sharedId = settings.shared_id === undefined ? undefined : at(payload, settings.shared_id);
  if (sharedId !== undefined && !nonEmpty(sharedId)) {
    return { kind: "reject", error: `shared_id: ${settings.shared_id ?? ""} must be a non-empty string` };
  }
  const data: Record<string, unknown> = {};
  for (const [field, path] of Object.entries(settings.data)) {
    const value = at(payload, path);
    if (value !== undefined) data[field] = value;
  }
  const destination = handoff["destination"];
  const reason = handoff["reason"];
  return {
    kind: "event",
    event: {
      event_id: derivedEventId(payload),
      id,
      ...(sharedId !== undefined ? { shared_id: sharedId } : {}),
      state: settings.state,
      occurred_at: occurredAt,
      data,
      ...(settings.channel !== undefined ? { channel: settings.channel } : {}),
      ...(typeof destination === "string" ? { destination } : {}),
      ...(typeof reason === "string" ? { reason } : {}),
    },
  };
}

function headerValue(value: unknown): string | undefined {
  // A header sent more than once arrives as a list; the first occurrence counts, as for `flattenHeaders`.
  const first: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof first === "string") return first.trim() === "" ? undefined : first.trim();
  if (typeof first === "number" || typeof first === "boolean") return String(first);
  return undefined;
}

/**
 * Voice handoff metadata: a JSON object of SIP headers, mapped to event fields by the deployment's
 * header mapping. SIP header names are case-insensitive (RFC 3261 §7.3.1), so lookups are too.
 */
export function normaliseSipHeaders(
  payload: unknown,
  context: RecordContext,
  settings: SipHeaderSettings,
): Normalised {
  if (!isObject(payload))
    return { kind: "reject", error: "SIP headers must be a JSON object of header name -> value" };
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(payload)) {
    const text = headerValue(value);
    if (text !== undefined && !headers.has(name.toLowerCase())) headers.set(name.toLowerCase(), text);
  }
  if (settings.user_to_user !== undefined) {
    const raw = headers.get(settings.user_to_user.header.toLowerCase());
    if (raw !== undefined) {
      const decoded = decodeUserToUser(raw);
      if (!decoded.ok) return { kind: "reject", error: decoded.error };
      const content = readUuiContent(decoded.bytes, settings.user_to_user.format);
      if (!content.ok) return { kind: "reject", error: content.error };
      // Decoded names never shadow a header the request sent.
      for (const [name, value] of Object.entries(content.values))
        if (value !== "" && !headers.has(name)) headers.set(name, value);
    }
  }
  const header = (name: string | undefined): string | undefined =>
    name === undefined ? undefined : headers.get(name.toLowerCase());

  const id = header(settings.id);
  if (id === undefined) return { kind: "reject", error: `id: header ${settings.id} is missing` };
  const method = context.method?.toUpperCase();
  const byMethod =
    method !== undefined && settings.methods !== undefined && Object.hasOwn(settings.methods, method)
      ? settings.methods[method]
      : undefined;
  const state = header(settings.state) ?? byMethod ?? settings.default_state;
  if (state === undefined) {
    const why =
      method === undefined
        ? `header ${settings.state ?? "(none configured)"} is missing`
        : `header ${settings.state ?? "(none configured)"} is missing and method ${method} is not mapped (sip_headers.methods)`;
    return { kind: "reject", error: `state: ${why}` };
  }
  let occurredAt = header(settings.occurred_at);
  if (occurredAt === undefined) {
    const derived = occurredAtOf(context);
    if (typeof derived !== "string") return { kind: "reject", error: derived.error };
    occurredAt = derived;
  }
  const data: Record<string, string> = {};
  for (const [field, name] of Object.entries(settings.data)) {
    const value = header(name);
    if (value !== undefined) data[field] = value;
  }
  const optional = (field: "shared_id" | "channel" | "destination" | "reason"): Record<string, string> => {
    const value = header(settings[field]);
    return value === undefined ? {} : { [field]: value };
  };
  return {
    kind: "event",
    event: {
      // The method is part of what was sent: a REFER and a BYE with the same headers are two events.
      event_id:
        header(settings.event_id) ??
        derivedEventId(method === undefined ? payload : { method, headers: payload }),
      id,
      ...optional("shared_id"),
      state,
      occurred_at: occurredAt,
      data,
      ...optional("channel"),
      ...optional("destination"),
      ...optional("reason"),
    },
  };
}

/** One decoded JSON payload in the configured format, as a raw handoff event still to be validated. */
export function normalise(payload: unknown, context: RecordContext, input: InputSettings): Normalised {
  switch (input.format) {
    case "handoff_event":
      return { kind: "event", event: payload };
    case "chat_respond":
      return normaliseChatRespond(payload, context, input.chat_respond ?? DEFAULT_CHAT_RESPOND);
    case "sip_headers":
      if (input.sip_headers === undefined)
        return { kind: "reject", error: "format sip_headers has no header mapping configured" };
      return normaliseSipHeaders(payload, context, input.sip_headers);
  }
}
