import { describe, expect, it } from "vitest";
import { chatCloseStep, chatEventId, chatRespondStep, type ChatAttempt } from "./chat-lifecycle.js";

const respondSettings = {
  state: "handoff_initiated",
  channel: "webchat",
  data: { customer_id: "metadata.customer_id" },
};
const closeSettings = {
  failed_when: { path: "outcome", values: ["failed", "abandoned"] },
  failed_state: "handoff_failed",
  completed_state: "handoff_completed",
};
const T0 = Date.parse("2026-12-07T10:00:00.000Z");
const handoffAnswer = {
  conversation_id: "CONV-1",
  response: "Transferring you to a live agent.",
  end_conversation: true,
  handoff: { destination: "live_agent_queue", reason: "billing_question" },
  metadata: { customer_id: "12345" },
};

describe("chat/respond", () => {
  it("starts attempt 1 with the connector's shared_id and the mapped data", () => {
    const step = chatRespondStep(handoffAnswer, undefined, {
      nowMs: T0,
      sharedId: "acme_1",
      settings: respondSettings,
    });
    expect(step).toEqual({
      kind: "event",
      event: {
        event_id: chatEventId("CONV-1", 1, "respond"),
        id: "CONV-1",
        shared_id: "acme_1",
        state: "handoff_initiated",
        occurred_at: "2026-12-07T10:00:00.000Z",
        data: { customer_id: "12345" },
        channel: "webchat",
        destination: "live_agent_queue",
        reason: "billing_question",
      },
      next: { attempt: 1, open: true, initiated_at_ms: T0, shared_id: "acme_1" },
    });
  });

  it("skips a turn without a handoff and rejects a handoff without a conversation id", () => {
    expect(
      chatRespondStep({ conversation_id: "C", response: "hi", end_conversation: false }, undefined, {
        nowMs: T0,
        settings: respondSettings,
      }).kind,
    ).toBe("skip");
    const step = chatRespondStep({ end_conversation: true, handoff: {} }, undefined, {
      nowMs: T0,
      settings: respondSettings,
    });
    expect(step).toEqual({ kind: "reject", error: "conversation_id: required (the handoff's id)" });
  });

  it("a re-post of the open attempt is the same event; after a close it is a new attempt", () => {
    const open: ChatAttempt = { attempt: 1, open: true, initiated_at_ms: T0 };
    const again = chatRespondStep(handoffAnswer, open, { nowMs: T0 + 5000, settings: respondSettings });
    expect(again.kind === "event" && again.event["event_id"]).toBe(chatEventId("CONV-1", 1, "respond"));
    expect(again.kind === "event" && again.event["occurred_at"]).toBe("2026-12-07T10:00:00.000Z");
    const retry = chatRespondStep(
      handoffAnswer,
      { attempt: 1, open: false, shared_id: "acme_1" },
      {
        nowMs: T0 + 60_000,
        settings: respondSettings,
      },
    );
    expect(retry.kind === "event" && retry.event["event_id"]).toBe(chatEventId("CONV-1", 2, "respond"));
    // The shared id the first attempt had still keys the retry.
    expect(retry.kind === "event" && retry.event["shared_id"]).toBe("acme_1");
    expect(retry.kind === "event" && retry.next.attempt).toBe(2);
  });
});

describe("chat/close", () => {
  const open: ChatAttempt = { attempt: 2, open: true, initiated_at_ms: T0, shared_id: "acme_1" };

  it("completes the open handoff, strictly after its initiation", () => {
    const step = chatCloseStep({ conversation_id: "CONV-1" }, open, { nowMs: T0, settings: closeSettings });
    expect(step).toEqual({
      kind: "event",
      event: {
        event_id: chatEventId("CONV-1", 2, "close"),
        id: "CONV-1",
        shared_id: "acme_1",
        state: "handoff_completed",
        occurred_at: "2026-12-07T10:00:00.001Z",
        data: {},
      },
      next: { ...open, open: false },
    });
  });

  it.each([
    ["abandoned", "handoff_failed"],
    ["failed", "handoff_failed"],
    ["accepted", "handoff_completed"],
  ])("outcome %s ends it as %s", (outcome, state) => {
    const step = chatCloseStep({ conversation_id: "CONV-1", outcome }, open, {
      nowMs: T0 + 10,
      settings: closeSettings,
    });
    expect(step.kind === "event" && step.event["state"]).toBe(state);
    expect(step.kind === "event" && step.event["data"]).toEqual({ transfer_outcome: outcome });
  });

  it("follows a configured path", () => {
    const step = chatCloseStep({ conversation_id: "CONV-1", meta: { end: "no_agent" } }, open, {
      nowMs: T0 + 10,
      settings: { ...closeSettings, failed_when: { path: "meta.end", values: ["no_agent"] } },
    });
    expect(step.kind === "event" && step.event["state"]).toBe("handoff_failed");
  });

  it("skips a close with nothing open and names a missing conversation id", () => {
    expect(
      chatCloseStep({ conversation_id: "CONV-1" }, undefined, { nowMs: T0, settings: closeSettings }).kind,
    ).toBe("skip");
    expect(
      chatCloseStep(
        { conversation_id: "CONV-1" },
        { attempt: 1, open: false },
        { nowMs: T0, settings: closeSettings },
      ).kind,
    ).toBe("skip");
    expect(chatCloseStep({}, open, { nowMs: T0, settings: closeSettings })).toEqual({
      kind: "reject",
      error: "conversation_id: required (the conversation to close)",
    });
  });
});
