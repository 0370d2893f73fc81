import { createStateCatalogue } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { decodeHandoffEvent } from "./decode.js";
import {
  canonicalJson,
  derivedEventId,
  normalise,
  normaliseChatRespond,
  normaliseSipHeaders,
  type SipHeaderSettings,
} from "./normalise.js";

const at = Date.parse("2026-11-25T10:00:00.000Z");
const context = { timestamp: at };
const catalogue = createStateCatalogue({ customer_refund: "initiated" });
const bytes = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const errorOf = (result: object): string =>
  "error" in result && typeof result.error === "string" ? result.error : "";

const chat = {
  conversation_id: "CONV-1234567890",
  response: "Transferring you to a live agent.",
  end_conversation: true,
  handoff: { destination: "live_agent_queue", reason: "billing_question" },
  metadata: { customer_id: "12345", verified: true },
};

describe("canonical payload and derived event id", () => {
  it("hashes content, not formatting or key order", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
    expect(derivedEventId({ a: 1, b: 2 })).toBe(derivedEventId(JSON.parse('{ "b": 2,\n "a": 1 }')));
    expect(derivedEventId({ a: 1 })).not.toBe(derivedEventId({ a: 2 }));
    expect(derivedEventId({ a: 1 })).toMatch(/^sha256-[0-9a-f]{64}$/);
  });
});

describe("chat_respond", () => {
  it("normalises a handoff: id from conversation_id, labels from the handoff object, configured data", () => {
    const result = normaliseChatRespond(chat, context, {
      state: "handoff_initiated",
      channel: "webchat",
      data: {
        customer_id: "metadata.customer_id",
        verified: "metadata.verified",
        agent_message: "response",
        absent: "metadata.nope",
      },
    });
    expect(result).toEqual({
      kind: "event",
      event: {
        event_id: derivedEventId(chat),
        id: "CONV-1234567890",
        state: "handoff_initiated",
        occurred_at: "2026-11-25T10:00:00.000Z",
        channel: "webchat",
        destination: "live_agent_queue",
        reason: "billing_question",
        data: { customer_id: "12345", verified: true, agent_message: "Transferring you to a live agent." },
      },
    });
  });

  it("takes a configured state and shared id", () => {
    const result = normaliseChatRespond({ ...chat, session: { shared_id: "acme_1" } }, context, {
      state: "customer_refund",
      shared_id: "session.shared_id",
      data: {},
    });
    expect(result).toMatchObject({ kind: "event", event: { state: "customer_refund", shared_id: "acme_1" } });
  });

  it("skips a turn without a handoff, or one that does not end the conversation", () => {
    expect(
      normaliseChatRespond({ conversation_id: "c", response: "Hello", end_conversation: false }, context)
        .kind,
    ).toBe("skip");
    expect(normaliseChatRespond({ ...chat, end_conversation: false }, context).kind).toBe("skip");
    expect(
      normaliseChatRespond({ conversation_id: "c", response: "Bye", end_conversation: true }, context).kind,
    ).toBe("skip");
    expect(normaliseChatRespond({ ...chat, handoff: null }, context).kind).toBe("skip");
  });

  it("rejects a handoff missing what it needs, naming the field", () => {
    const { conversation_id: _omitted, ...withoutId } = chat;
    expect(normaliseChatRespond(withoutId, context)).toEqual({
      kind: "reject",
      error: "conversation_id: required (the handoff's id)",
    });
    expect(errorOf(normaliseChatRespond({ ...chat, handoff: "queue" }, context))).toMatch(/^handoff:/);
    expect(normaliseChatRespond({ ...chat, handoff: { reason: 7 } }, context)).toMatchObject({
      kind: "reject",
      error: "handoff.reason: must be a string",
    });
    expect(errorOf(normaliseChatRespond(chat, { timestamp: Number.NaN }))).toMatch(/^occurred_at:/);
    expect(normaliseChatRespond([chat], context).kind).toBe("reject");
  });

  it("through decode: a valid event, a skip, and a schema rejection for a bad label", () => {
    const input = { format: "chat_respond" as const, chat_respond: { state: "handoff_initiated", data: {} } };
    const decoded = decodeHandoffEvent(bytes(chat), { maxBytes: 4096, catalogue, input, timestamp: at });
    expect(decoded).toMatchObject({
      ok: true,
      event: { id: "CONV-1234567890", schema_version: 1, data: {} },
    });
    expect(
      decodeHandoffEvent(bytes({ conversation_id: "c", end_conversation: false }), {
        maxBytes: 4096,
        catalogue,
        input,
        timestamp: at,
      }),
    ).toEqual({
      ok: false,
      skipped: true,
      why: "chat/respond payload without a handoff",
    });
    const missing = decodeHandoffEvent(bytes({ end_conversation: true, handoff: {} }), {
      maxBytes: 4096,
      catalogue,
      input,
      timestamp: at,
    });
    expect(missing).toMatchObject({ ok: false, reason: "schema_violation" });
    expect(errorOf(missing)).toContain("conversation_id");
    // An undeclared configured state is caught like any event's.
    const unknown = decodeHandoffEvent(bytes(chat), {
      maxBytes: 4096,
      catalogue,
      input: { format: "chat_respond", chat_respond: { state: "callback", data: {} } },
      timestamp: at,
    });
    expect(unknown).toMatchObject({ ok: false, reason: "unknown_state" });
  });
});

describe("sip_headers", () => {
  const mapping: SipHeaderSettings = {
    id: "X-Conversation-Id",
    shared_id: "X-Shared-Id",
    state: "X-Handoff-State",
    reason: "X-Handoff-Reason",
    data: { customer_id: "X-Customer-Id", verified: "X-Verified" },
  };
  const headers = {
    "x-conversation-id": "0bba04d7-38b3-4fd3-a1a8-329c34517fc1",
    "X-SHARED-ID": "acme_inc_sdklfasdklfjasbdfklabs",
    "X-Handoff-State": "successfully_identified",
    "X-Customer-Id": ["12345", "ignored"],
    "X-Verified": true,
    Via: "SIP/2.0/UDP pbx.example.com",
  };

  it("maps configured headers case-insensitively and derives event_id and occurred_at", () => {
    expect(normaliseSipHeaders(headers, context, mapping)).toEqual({
      kind: "event",
      event: {
        event_id: derivedEventId(headers),
        id: "0bba04d7-38b3-4fd3-a1a8-329c34517fc1",
        shared_id: "acme_inc_sdklfasdklfjasbdfklabs",
        state: "successfully_identified",
        occurred_at: "2026-11-25T10:00:00.000Z",
        data: { customer_id: "12345", verified: "true" },
      },
    });
  });

  it("uses event_id and occurred_at headers when mapped and present, and default_state when the state header is absent", () => {
    const result = normaliseSipHeaders(
      { "X-Conversation-Id": "c1", "X-Event-Id": "evt-1", "X-Time": "2026-11-25T09:00:00Z" },
      context,
      {
        id: "X-Conversation-Id",
        state: "X-Handoff-State",
        default_state: "handoff_initiated",
        event_id: "X-Event-Id",
        occurred_at: "X-Time",
        data: {},
      },
    );
    expect(result).toMatchObject({
      kind: "event",
      event: { event_id: "evt-1", occurred_at: "2026-11-25T09:00:00Z", state: "handoff_initiated" },
    });
  });

  it("rejects a record missing a required header, naming field and header", () => {
    expect(normaliseSipHeaders({ "X-Handoff-State": "handoff_initiated" }, context, mapping)).toEqual({
      kind: "reject",
      error: "id: header X-Conversation-Id is missing",
    });
    expect(
      normaliseSipHeaders({ "X-Conversation-Id": "c", "X-Handoff-State": "  " }, context, mapping),
    ).toEqual({ kind: "reject", error: "state: header X-Handoff-State is missing" });
    expect(normaliseSipHeaders("INVITE sip:agent@example.com", context, mapping).kind).toBe("reject");
  });

  it("through decode: a valid event; an unknown state is rejected as unknown_state", () => {
    const input = { format: "sip_headers" as const, sip_headers: mapping };
    expect(
      decodeHandoffEvent(bytes(headers), { maxBytes: 4096, catalogue, input, timestamp: at }),
    ).toMatchObject({ ok: false, reason: "unknown_state" });
    const refund = { ...headers, "X-Handoff-State": "customer_refund" };
    expect(
      decodeHandoffEvent(bytes(refund), { maxBytes: 4096, catalogue, input, timestamp: at }),
    ).toMatchObject({ ok: true, event: { state: "customer_refund" } });
  });
});

describe("handoff_event", () => {
  it("passes the native event through unchanged; its event_id and occurred_at stay required", () => {
    const event = {
      event_id: "e1",
      id: "c1",
      state: "handoff_initiated",
      occurred_at: "2026-11-25T10:00:00Z",
    };
    expect(normalise(event, context, { format: "handoff_event" })).toEqual({ kind: "event", event });
    const decoded = decodeHandoffEvent(bytes({ id: "c1", state: "handoff_initiated" }), {
      maxBytes: 4096,
      catalogue,
      timestamp: at,
    });
    expect(decoded).toMatchObject({ ok: false, reason: "schema_violation" });
    expect(errorOf(decoded)).toContain("event_id");
  });
});
