import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DestinationError, RetryableDeliveryError } from "@handoff-sync/schema";
import { snapshotFixture } from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWebhookAdapter, type WebhookConfig } from "./adapter.js";
import { webhookMessageId } from "./message-id.js";
import { verifyWebhook } from "./sign.js";

const at = "2025-03-01T10:00:00.000Z";
const snapshot = snapshotFixture({ at });

const methods: string[] = [];
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
let server: Server;
let baseUrl: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    methods.push(req.method ?? "");
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(405).end();
    });
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

function config(overrides: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    type: "webhook",
    url: "https://crm.example.com/hooks",
    secret: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "old-secret"],
    allow_private_network: false,
    timeout_ms: 2_000,
    concurrency: 1,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    ...overrides,
  };
}

describe("webhook preview", () => {
  it("shows the exact request deliver sends, signatures masked, without sending anything", async () => {
    const adapter = createWebhookAdapter("crm", config(), { nowMs: () => Date.parse(at) });
    const [request, ...more] = adapter.preview?.({ snapshot, destination: "crm" }) ?? [];
    expect(more).toEqual([]);
    expect(request).toEqual({
      method: "POST",
      url: "https://crm.example.com/hooks",
      headers: {
        "content-type": "application/json",
        "user-agent": expect.stringMatching(/^handoff-sync\//) as unknown,
        "webhook-id": webhookMessageId("crm", "conv-1", 1),
        "webhook-timestamp": String(Date.parse(at) / 1_000),
        "webhook-signature": "v1,**** v1,****",
      },
      body: expect.any(String) as unknown,
    });
    expect(JSON.parse(request?.body ?? "")).toMatchObject({
      type: "handoff.updated",
      data: { key: "conv-1", version: 1 },
    });
    await adapter.close();
  });
});

describe("webhook preview against deliver", () => {
  it("is what deliver sends, byte for byte, apart from the masked signature", async () => {
    const adapter = createWebhookAdapter(
      "crm",
      config({ url: `${baseUrl}/hooks`, allow_private_network: true }),
      {
        nowMs: () => Date.parse(at),
      },
    );
    const [preview] = adapter.preview?.({ snapshot, destination: "crm" }) ?? [];
    received.length = 0;
    await adapter.deliver({ snapshot, destination: "crm" }).catch(() => undefined); // the server answers 405
    const sent = received[0];
    expect(sent?.body).toBe(preview?.body);
    for (const [name, value] of Object.entries(preview?.headers ?? {})) {
      if (name !== "webhook-signature") expect(sent?.headers[name]).toBe(value);
    }
    expect(
      verifyWebhook({
        headers: sent?.headers ?? {},
        body: preview?.body ?? "",
        secrets: ["old-secret"],
        nowSec: Date.parse(at) / 1_000,
      }),
    ).toBe(true);
    await adapter.close();
  });
});

describe("webhook check", () => {
  it("reports a receiver as reachable whatever HTTP status it answers, with a HEAD request", async () => {
    const adapter = createWebhookAdapter(
      "crm",
      config({ url: `${baseUrl}/hooks`, allow_private_network: true }),
    );
    methods.length = 0;
    await expect(adapter.check?.()).resolves.toBeUndefined();
    expect(methods).toEqual(["HEAD"]);
    await adapter.close();
  });

  it("fails as retryable when nothing answers", async () => {
    const adapter = createWebhookAdapter(
      "crm",
      config({ url: "http://127.0.0.1:1/hooks", allow_private_network: true }),
    );
    await expect(adapter.check?.()).rejects.toBeInstanceOf(RetryableDeliveryError);
    await adapter.close();
  });

  it("refuses private addresses like deliveries do", async () => {
    const adapter = createWebhookAdapter("crm", config({ url: `${baseUrl}/hooks` }));
    await expect(adapter.check?.()).rejects.toBeInstanceOf(DestinationError);
    await adapter.close();
  });
});
