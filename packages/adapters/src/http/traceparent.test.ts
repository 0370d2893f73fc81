import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { HandoffSnapshotSchema, type HandoffSnapshot } from "@handoff-sync/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// The fakes live in @handoff-sync/testing, which this package does not depend on at runtime.
import { FAKE_ZENDESK_API_TOKEN, startFakeZendesk } from "../../../testing/src/fakes/zendesk/index.js";
import { createAdapter } from "../registry.js";
import { createDestinationHttp, withTraceparent } from "./destination-http.js";

// What a CRM sees: the W3C trace context header on the wire, read by a real local server.

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const at = "2025-03-01T10:00:00.000Z";

function snapshot(version: number): HandoffSnapshot {
  return HandoffSnapshotSchema.parse({
    schema_version: 1,
    key: "conv-9",
    id: "conv-9",
    state: "handoff_initiated",
    stage: "initiated",
    version,
    occurred_at: at,
    data: { customer_id: "C-9" },
    reason: "refund",
    history: [
      {
        event_id: `e${version}`,
        id: "conv-9",
        state: "handoff_initiated",
        stage: "initiated",
        occurred_at: at,
        received_at: at,
        data: {},
      },
    ],
    created_at: at,
    updated_at: at,
  });
}

const received: IncomingHttpHeaders[] = [];
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    req.on("end", () => res.writeHead(204).end());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, "close");
});

describe("traceparent on CRM requests", () => {
  it("send() adds the header when given, explicitly or for the delivery in scope, and not otherwise", async () => {
    const http = createDestinationHttp({
      destination: "crm",
      timeoutMs: 2000,
      connections: 1,
      allowPrivateNetwork: true,
    });
    try {
      received.length = 0;
      await http.send({ method: "POST", url: `${baseUrl}/a`, body: "{}", traceparent: TRACEPARENT });
      await withTraceparent(TRACEPARENT, () => http.send({ method: "GET", url: `${baseUrl}/b` }));
      await http.send({ method: "GET", url: `${baseUrl}/c` });
      expect(received.map((h) => h.traceparent)).toEqual([TRACEPARENT, TRACEPARENT, undefined]);
    } finally {
      await http.close();
    }
  });

  it("the webhook adapter sends the delivery's traceparent", async () => {
    const webhook = createAdapter("demo", {
      type: "webhook",
      url: `${baseUrl}/hooks`,
      secret: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
      allow_private_network: true,
      timeout_ms: 2_000,
      concurrency: 1,
      retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    });
    try {
      received.length = 0;
      await webhook.deliver({ snapshot: snapshot(1), destination: "demo", traceparent: TRACEPARENT });
      await webhook.deliver({ snapshot: snapshot(2), destination: "demo" });
      expect(received.map((h) => h.traceparent)).toEqual([TRACEPARENT, undefined]);
    } finally {
      await webhook.close();
    }
  });

  it("a CRM adapter from the registry sends it on every request of the delivery", async () => {
    const zd = await startFakeZendesk();
    const zendesk = createAdapter("support", {
      type: "zendesk",
      url: zd.url,
      auth: {
        method: "api_token",
        email: FAKE_ZENDESK_API_TOKEN.email,
        api_token: FAKE_ZENDESK_API_TOKEN.token,
      },
      on_missing_record: "recreate",
      allow_private_network: true,
      timeout_ms: 2_000,
      concurrency: 1,
      retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    });
    try {
      const { recordId } = await zendesk.deliver({
        snapshot: snapshot(1),
        destination: "support",
        traceparent: TRACEPARENT,
      });
      await zendesk.deliver({
        snapshot: snapshot(2),
        destination: "support",
        traceparent: TRACEPARENT,
        previous: { version: 1, ...(recordId === undefined ? {} : { recordId }) },
      });
      expect(zd.requests.length).toBeGreaterThanOrEqual(2);
      expect(zd.requests.map((r) => r.traceparent)).toEqual(zd.requests.map(() => TRACEPARENT));
    } finally {
      await zendesk.close();
      await zd.close();
    }
  });
});
