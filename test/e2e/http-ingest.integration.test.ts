import {
  startPipeline,
  uniqueName,
  waitFor,
  type Pipeline,
  type ReceivedDelivery,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

/**
 * The seed's paths without glue: a webchat connector and a session border controller post what they
 * have over HTTP, and the CRM (the demo CRM, verifying every signature) ends at each handoff's states.
 */
describe("HTTP ingestion through the pipeline to the CRM", () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      statesYaml: [
        "http_ingest:",
        "  chat_respond:",
        "    channel: webchat",
        "    data:",
        "      customer_id: metadata.customer_id",
        "  chat_close:",
        "    failed_when:",
        "      path: outcome",
        "      values: [abandoned, no_agent]",
        "  sip_headers:",
        "    id: Call-ID",
        "    shared_id: uui.shared_id",
        "    reason: X-Handoff-Reason",
        "    data:",
        "      customer_id: uui.customer_id",
        "    methods:",
        "      REFER: handoff_initiated",
        "      BYE: handoff_completed",
        "    user_to_user:",
        "      format: form",
      ].join("\n"),
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  const post = async (path: string, body: unknown, contentType = "application/json"): Promise<Response> =>
    pipeline.api(path, {
      scope: "ingest",
      method: "POST",
      headers: { "content-type": contentType },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  const accepted = async (response: Response): Promise<string> => {
    const text = await response.text();
    expect(response.status, text).toBe(202);
    return (JSON.parse(text) as { event_id: string }).event_id;
  };

  const statesOf = async (key: string, count: number): Promise<ReceivedDelivery[]> =>
    waitFor(
      async () => {
        const got = (await pipeline.deliveries()).filter((d) => d.key === key && !d.duplicate);
        return got.length >= count && got;
      },
      { message: `${count} deliveries of ${key}`, timeoutMs: 30_000 },
    );

  /** Waits until the CRM has the handoff at `state`: coalescing may skip a state in between. */
  const reaches = async (key: string, state: string): Promise<ReceivedDelivery> =>
    waitFor(
      async () => {
        const got = (await pipeline.deliveries()).filter((d) => d.key === key);
        const last = got.at(-1);
        return last?.state === state && last;
      },
      { message: `${key} at ${state}`, timeoutMs: 30_000 },
    );

  const answer = (conversationId: string) => ({
    conversation_id: conversationId,
    response: "Transferring you to a live agent.",
    end_conversation: true,
    handoff: { destination: "live_agent_queue", reason: "billing_question" },
    metadata: { customer_id: "12345" },
  });

  it("chat/respond with a handoff, then chat/close: the CRM gets initiated, then completed", async () => {
    const conversation = uniqueName("CONV");
    const sharedId = uniqueName("acme");
    // A chat turn without a handoff is not an event.
    const turn = await post("/v1/ingest/chat/respond", {
      conversation_id: conversation,
      response: "How can I help?",
      end_conversation: false,
    });
    expect(turn.status).toBe(200);
    expect(await turn.json()).toEqual({ skipped: true, why: "chat/respond payload without a handoff" });

    await accepted(await post(`/v1/ingest/chat/respond?shared_id=${sharedId}`, answer(conversation)));
    const initiated = await reaches(sharedId, "handoff_initiated");
    expect(initiated.data).toEqual({ customer_id: "12345" });

    await accepted(await post("/v1/ingest/chat/close", { conversation_id: conversation }));
    await reaches(sharedId, "handoff_completed");
    const states = (await statesOf(sharedId, 2)).map((d) => d.state);
    expect(states).toEqual(["handoff_initiated", "handoff_completed"]);

    // The Handoff API read answers the seed's shape for it.
    const read = await pipeline.api(`/v1/acme/support/handoff_state?id=${conversation}`, { scope: "read" });
    expect(await read.json()).toEqual({
      id: conversation,
      shared_id: sharedId,
      data: { customer_id: "12345" },
    });
    // A second close has nothing open.
    const again = await post("/v1/ingest/chat/close", { conversation_id: conversation });
    expect(again.status).toBe(200);
  });

  it("every edge of the seed's diagram from chat: initiated -> failed -> initiated (retry) -> completed", async () => {
    const conversation = uniqueName("CONV");
    await accepted(await post("/v1/ingest/chat/respond", answer(conversation)));
    await reaches(conversation, "handoff_initiated");
    await accepted(
      await post("/v1/ingest/chat/close", { conversation_id: conversation, outcome: "abandoned" }),
    );
    const failed = await reaches(conversation, "handoff_failed");
    expect(failed.data).toMatchObject({ transfer_outcome: "abandoned" });
    // The retry: the same answer again is a new attempt, not a duplicate.
    const retryId = await accepted(await post("/v1/ingest/chat/respond", answer(conversation)));
    await reaches(conversation, "handoff_initiated");
    await accepted(
      await post("/v1/ingest/chat/close", { conversation_id: conversation, outcome: "accepted" }),
    );
    await reaches(conversation, "handoff_completed");
    const handoff = (await (
      await pipeline.api(`/v1/handoffs?id=${conversation}`, { scope: "read" })
    ).json()) as {
      history: { state: string; event_id: string; anomaly?: string }[];
    };
    expect(handoff.history.map((h) => h.state)).toEqual([
      "handoff_initiated",
      "handoff_failed",
      "handoff_initiated",
      "handoff_completed",
    ]);
    expect(handoff.history[2]?.event_id).toBe(retryId);
    // Every step was a legal edge of the diagram.
    expect(handoff.history.filter((h) => h.anomaly !== undefined)).toEqual([]);
  });

  it("a SIP REFER then BYE (message/sip, User-to-User in hex) ends initiated then completed", async () => {
    const callId = `${uniqueName("call")}@sbc.example.com`;
    const sharedId = uniqueName("sip");
    const uui = Buffer.from(`shared_id=${sharedId}&customer_id=777`).toString("hex");
    const message = (method: string, cseq: number) =>
      [
        `${method} sip:agent@cc.example.com SIP/2.0`,
        "Via: SIP/2.0/UDP sbc.example.com;branch=z9hG4bK776asdhds",
        "From: <sip:ai@example.com>;tag=1928301774",
        "To: <sip:agent@cc.example.com>",
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} ${method}`,
        "X-Handoff-Reason: refund",
        `User-to-User: ${uui};encoding=hex`,
        "Content-Length: 0",
        "",
        "",
      ].join("\r\n");
    await accepted(await post("/v1/ingest/sip", message("REFER", 1), "message/sip"));
    const initiated = await reaches(sharedId, "handoff_initiated");
    expect(initiated.data).toEqual({ customer_id: "777" });
    await accepted(await post("/v1/ingest/sip", message("BYE", 2), "message/sip"));
    await reaches(sharedId, "handoff_completed");
  });

  it("counts handoffs by state, flags a first event that is not initiated, and times initiated -> completed", async () => {
    const id = uniqueName("late");
    const completed = await post("/v1/ingest/events", {
      schema_version: 1,
      event_id: uniqueName("e"),
      id,
      state: "handoff_completed",
      occurred_at: new Date().toISOString(),
      data: {},
    });
    expect(completed.status).toBe(202);
    await reaches(id, "handoff_completed");
    const metric = (text: string, name: string): number =>
      text
        .split("\n")
        .filter((line) => line.startsWith(name))
        .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
    const consumerPort = pipeline.services.get("consumer")?.port ?? 0;
    const consumer = await (await fetch(`http://127.0.0.1:${consumerPort}/metrics`)).text();
    expect(
      metric(consumer, 'handoff_sync_handoff_transitions_total{state="handoff_failed",stage="failed"'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metric(consumer, 'handoff_sync_handoff_transitions_total{state="handoff_completed",stage="completed"'),
    ).toBeGreaterThanOrEqual(3);
    expect(
      metric(consumer, 'handoff_sync_handoff_anomalies_total{anomaly="first_not_initiated"'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metric(consumer, "handoff_sync_handoff_initiated_to_completed_seconds_count"),
    ).toBeGreaterThanOrEqual(2);
    const api = await (await fetch(`${pipeline.apiUrl}/metrics`)).text();
    expect(
      metric(api, 'handoff_sync_http_ingest_requests_total{endpoint="chat_close",result="accepted"'),
    ).toBeGreaterThanOrEqual(3);
  });

  it("refuses what the consumer would reject, with its reason, as problem+json", async () => {
    const bad = await post("/v1/ingest/events", { schema_version: 1, event_id: "e", id: "x", state: "nope" });
    expect(bad.status).toBe(422);
    expect(bad.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await bad.json()).toMatchObject({ reason: "schema_violation" });
    const unmapped = await post("/v1/ingest/sip", { method: "CANCEL", headers: { "Call-ID": "c" } });
    expect(unmapped.status).toBe(422);
    expect(await unmapped.json()).toMatchObject({
      detail: expect.stringContaining("method CANCEL is not mapped") as unknown,
    });
    // An operator's key cannot post events.
    const admin = await pipeline.api("/v1/ingest/events", { method: "POST", body: "{}" });
    expect(admin.status).toBe(403);
  });
});
