import { signWebhook, webhookBody, webhookMessageId } from "@handoff-sync/adapters";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReceiver, type Receiver } from "./receiver.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const at = "2025-03-01T10:00:00.000Z";
// Typed through the adapters' API: the demo does not depend on @handoff-sync/schema.
const snapshot: Parameters<typeof webhookBody>[0] = {
  schema_version: 1,
  key: "conv-7",
  id: "conv-7",
  state: "customer_refund",
  stage: "initiated",
  version: 2,
  occurred_at: at,
  data: { customer_id: "C-42" },
  reason: "refund over limit",
  history: [
    {
      event_id: "e1",
      id: "conv-7",
      state: "customer_refund",
      stage: "initiated",
      occurred_at: at,
      received_at: at,
      data: {},
    },
  ],
  base_data: {},
  created_at: at,
  updated_at: at,
};

const lines: string[] = [];
let receiver: Receiver;
let base: string;

beforeAll(async () => {
  receiver = createReceiver({ secrets: [SECRET], log: (line) => lines.push(line) });
  base = `http://127.0.0.1:${await receiver.listen(0, "127.0.0.1")}`;
});
afterAll(() => receiver.close());

function post(
  body: string,
  secret = SECRET,
  timestampSec = Math.floor(Date.now() / 1_000),
): Promise<Response> {
  const id = webhookMessageId("demo-crm", snapshot.key, snapshot.version);
  return fetch(`${base}/webhooks/handoff`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestampSec),
      "webhook-signature": signWebhook({ id, timestampSec, body, secrets: [secret] }),
    },
    body,
  });
}

describe("demo-crm receiver", () => {
  it("accepts a signed delivery, prints one line and lists it", async () => {
    const response = await post(webhookBody(snapshot));
    expect(response.status).toBe(204);
    expect(lines.at(-1)).toBe("[demo-crm] conv-7 v2 customer_refund customer=C-42 reason=refund over limit");
    const listed = (await (await fetch(`${base}/deliveries`)).json()) as unknown[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ duplicate: false, payload: { data: { key: "conv-7", version: 2 } } });
  });

  it("flags a redelivery of the same webhook-id as a duplicate", async () => {
    expect((await post(webhookBody(snapshot))).status).toBe(204);
    expect(receiver.deliveries.at(-1)?.duplicate).toBe(true);
    expect(lines.at(-1)).toMatch(/\(duplicate\)$/);
  });

  it("answers 401 to a bad signature, a tampered body or a stale timestamp, and records nothing", async () => {
    const before = receiver.deliveries.length;
    expect((await post(webhookBody(snapshot), "whsec_b2xkLXNlY3JldA==")).status).toBe(401);
    expect((await post(webhookBody(snapshot), SECRET, Math.floor(Date.now() / 1_000) - 3_600)).status).toBe(
      401,
    );
    const id = "msg_x";
    const timestampSec = Math.floor(Date.now() / 1_000);
    const tampered = await fetch(`${base}/`, {
      method: "POST",
      headers: {
        "webhook-id": id,
        "webhook-timestamp": String(timestampSec),
        "webhook-signature": signWebhook({ id, timestampSec, body: "{}", secrets: [SECRET] }),
      },
      body: "{ }",
    });
    expect(tampered.status).toBe(401);
    expect(receiver.deliveries).toHaveLength(before);
  });

  it("answers 400 to a signed body that is not a handoff payload", async () => {
    expect((await post('{"type":"other"}')).status).toBe(400);
  });
});
