import { once } from "node:events";
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import {
  AuthError,
  DestinationError,
  HandoffSnapshotSchema,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Adapter } from "../contract.js";
import { createAdapter } from "../registry.js";
import { USER_AGENT } from "../http/destination-http.js";
import { createWebhookAdapter, type WebhookConfig } from "./adapter.js";
import { webhookMessageId } from "./message-id.js";
import { WebhookPayloadSchema } from "./payload.js";
import { verifyWebhook } from "./sign.js";

// These run against a real local HTTP server; they need neither Kafka nor Redis.

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

let reply: (res: ServerResponse) => void = (res) => res.writeHead(204).end();
const received: Received[] = [];
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      reply(res);
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

const adapters: Adapter[] = [];
afterEach(async () => {
  received.length = 0;
  reply = (res) => res.writeHead(204).end();
  await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
});

function config(overrides: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    type: "webhook",
    url: `${baseUrl}/hooks`,
    secret: [SECRET],
    allow_private_network: true,
    timeout_ms: 2_000,
    concurrency: 2,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    ...overrides,
  };
}

function adapter(overrides: Partial<WebhookConfig> = {}, nowMs?: () => number): Adapter {
  const created = createWebhookAdapter("demo", config(overrides), nowMs === undefined ? {} : { nowMs });
  adapters.push(created);
  return created;
}

const at = "2025-03-01T10:00:00.000Z";
function snapshot(version = 1): HandoffSnapshot {
  return HandoffSnapshotSchema.parse({
    schema_version: 1,
    key: "conv-1",
    id: "conv-1",
    state: "handoff_initiated",
    stage: "initiated",
    version,
    occurred_at: at,
    data: { customer_id: "C-42" },
    reason: "billing question",
    history: [
      {
        event_id: "e1",
        id: "conv-1",
        state: "handoff_initiated",
        stage: "initiated",
        occurred_at: at,
        received_at: at,
        data: { customer_id: "C-42" },
      },
    ],
    created_at: at,
    updated_at: at,
  });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("expected the delivery to fail"),
    (error: unknown) => error,
  );
}

describe("webhook adapter against a local server", () => {
  it("posts a signed Standard Webhooks request and succeeds on 2xx", async () => {
    const result = await adapter().deliver({ snapshot: snapshot(3), destination: "demo" });
    expect(result).toEqual({ status: 204 });
    const [request] = received;
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers["user-agent"]).toBe(USER_AGENT);
    expect(request?.headers["webhook-id"]).toBe(webhookMessageId("demo", "conv-1", 3));
    expect(
      verifyWebhook({ headers: request?.headers ?? {}, body: request?.body ?? "", secrets: [SECRET] }),
    ).toBe(true);
    const payload = WebhookPayloadSchema.parse(JSON.parse(request?.body ?? ""));
    expect(payload).toEqual({
      type: "handoff.updated",
      timestamp: at,
      data: {
        key: "conv-1",
        id: "conv-1",
        shared_id: null,
        state: "handoff_initiated",
        stage: "initiated",
        version: 3,
        occurred_at: at,
        data: { customer_id: "C-42" },
        channel: null,
        destination: null,
        reason: "billing question",
      },
    });
  });

  it("keeps the webhook-id and body across retries of one version, with a fresh timestamp", async () => {
    let now = 1_700_000_000_000;
    const webhook = adapter({}, () => now);
    await webhook.deliver({ snapshot: snapshot(2), destination: "demo" });
    now += 60_000;
    await webhook.deliver({ snapshot: snapshot(2), destination: "demo" });
    const [first, second] = received;
    expect(second?.headers["webhook-id"]).toBe(first?.headers["webhook-id"]);
    expect(second?.body).toBe(first?.body);
    expect(Number(second?.headers["webhook-timestamp"]) - Number(first?.headers["webhook-timestamp"])).toBe(
      60,
    );
  });

  it("is reachable through the registry", async () => {
    const webhook = createAdapter("demo", config());
    adapters.push(webhook);
    expect(webhook.type).toBe("webhook");
    await expect(webhook.deliver({ snapshot: snapshot(), destination: "demo" })).resolves.toEqual({
      status: 204,
    });
  });

  it("500 is retryable and carries a redacted excerpt", async () => {
    reply = (res) =>
      res
        .writeHead(500, { "content-type": "application/json" })
        .end(JSON.stringify({ error: "boom", api_key: "sk_live_123" }));
    const error = await failure(adapter().deliver({ snapshot: snapshot(), destination: "demo" }));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status: 500, responseExcerpt: '{"error":"boom","api_key":"[REDACTED]"}' });
  });

  it("429 is retryable with Retry-After honoured", async () => {
    reply = (res) => res.writeHead(429, { "retry-after": "7" }).end("slow down");
    const error = await failure(adapter().deliver({ snapshot: snapshot(), destination: "demo" }));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 7_000, responseExcerpt: "slow down" });
  });

  it("410 parks the destination", async () => {
    reply = (res) => res.writeHead(410).end();
    const error = await failure(adapter().deliver({ snapshot: snapshot(), destination: "demo" }));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toMatchObject({ status: 410, scope: "destination" });
  });

  it("401 is an auth error", async () => {
    reply = (res) => res.writeHead(401).end();
    expect(await failure(adapter().deliver({ snapshot: snapshot(), destination: "demo" }))).toBeInstanceOf(
      AuthError,
    );
  });

  it("does not follow redirects", async () => {
    reply = (res) => res.writeHead(302, { location: `${baseUrl}/elsewhere` }).end();
    expect(await failure(adapter().deliver({ snapshot: snapshot(), destination: "demo" }))).toBeInstanceOf(
      PermanentDeliveryError,
    );
    expect(received).toHaveLength(1);
  });

  it("a slow receiver times out as retryable", async () => {
    reply = (res) => setTimeout(() => res.writeHead(204).end(), 1_000).unref();
    const error = await failure(
      adapter({ timeout_ms: 150 }).deliver({ snapshot: snapshot(), destination: "demo" }),
    );
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toHaveProperty("message", expect.stringContaining("timed out") as unknown);
  });

  it("a refused connection is retryable", async () => {
    const error = await failure(
      adapter({ url: "http://127.0.0.1:1/hooks" }).deliver({ snapshot: snapshot(), destination: "demo" }),
    );
    expect(error).toBeInstanceOf(RetryableDeliveryError);
  });

  it("an aborted signal fails the attempt as retryable", async () => {
    reply = (res) => setTimeout(() => res.writeHead(204).end(), 1_000).unref();
    const controller = new AbortController();
    const pending = adapter().deliver({
      snapshot: snapshot(),
      destination: "demo",
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    const error = await failure(pending);
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toHaveProperty("message", expect.stringContaining("aborted") as unknown);
  });
});

describe("private-network guard", () => {
  it("refuses a private IP literal unless allowed", async () => {
    const error = await failure(
      adapter({ allow_private_network: false }).deliver({ snapshot: snapshot(), destination: "demo" }),
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toHaveProperty("adminHint", expect.stringContaining("allow_private_network") as unknown);
    expect(received).toHaveLength(0);
  });

  it("refuses a host name that resolves to a private address, checked at connect time", async () => {
    const port = (server.address() as AddressInfo).port;
    const error = await failure(
      adapter({ allow_private_network: false, url: `http://localhost:${port}/hooks` }).deliver({
        snapshot: snapshot(),
        destination: "demo",
      }),
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toHaveProperty("message", expect.stringMatching(/localhost.*private/) as unknown);
    expect(received).toHaveLength(0);
  });

  it("refuses it through HTTP_PROXY too, where the proxy would resolve and dial it", async () => {
    const port = (server.address() as AddressInfo).port;
    const proxied: string[] = [];
    // A forward proxy: it relays absolute-form requests to whatever host they name.
    const proxy = createServer((req, res) => {
      proxied.push(String(req.url));
      const upstream = httpRequest(
        String(req.url),
        { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    proxy.listen(0, "127.0.0.1");
    await once(proxy, "listening");
    try {
      const proxySettings = { httpProxy: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` };
      const url = `http://localhost:${port}/hooks`;
      const guarded = createWebhookAdapter("demo", config({ allow_private_network: false, url }), {
        proxy: proxySettings,
      });
      adapters.push(guarded);
      const error = await failure(guarded.deliver({ snapshot: snapshot(), destination: "demo" }));
      expect(error).toBeInstanceOf(DestinationError);
      expect(await failure(guarded.check?.() ?? Promise.resolve())).toBeInstanceOf(DestinationError);
      expect(proxied).toEqual([]);
      expect(received).toHaveLength(0);

      const allowed = createWebhookAdapter("demo", config({ allow_private_network: true, url }), {
        proxy: proxySettings,
      });
      adapters.push(allowed);
      await allowed.deliver({ snapshot: snapshot(), destination: "demo" });
      expect(proxied).toEqual([url]);
      expect(received).toHaveLength(1);
    } finally {
      proxy.close();
    }
  });
});
