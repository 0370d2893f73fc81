import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  verifyWebhook,
  WebhookPayloadSchema,
  WebhookVerificationError,
  type WebhookPayload,
} from "@handoff-sync/adapters";

const MAX_BODY_BYTES = 1_048_576;

export interface ReceivedDelivery {
  readonly webhookId: string;
  readonly receivedAt: string;
  /** A redelivery of a webhook-id already seen: a real CRM would ignore it. */
  readonly duplicate: boolean;
  readonly payload: WebhookPayload;
}

export interface ReceiverOptions {
  readonly secrets: readonly string[];
  /** Gets one human-readable line per event. */
  readonly log: (line: string) => void;
}

export interface Receiver {
  readonly server: Server;
  readonly deliveries: ReceivedDelivery[];
  /** Resolves with the bound port (pass 0 for any free port). */
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

class BodyTooLargeError extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function describe({ data }: WebhookPayload): string {
  const customer = data.data["customer_id"];
  const fields = [
    `[demo-crm] ${data.key} v${data.version} ${data.state}`,
    `customer=${typeof customer === "string" || typeof customer === "number" ? customer : "-"}`,
    `reason=${data.reason ?? "-"}`,
  ];
  if (data.channel !== null) fields.push(`channel=${data.channel}`);
  return fields.join(" ");
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** A stand-in CRM for demos and tests: verifies Standard Webhooks signatures and remembers what it got. */
export function createReceiver({ secrets, log }: ReceiverOptions): Receiver {
  const deliveries: ReceivedDelivery[] = [];
  const seen = new Set<string>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method === "GET" && path === "/deliveries") return send(res, 200, deliveries);
    if (req.method === "GET" && path === "/healthz") return send(res, 200, { status: "ok" });
    if (req.method !== "POST") return send(res, 405, { error: "method not allowed" });

    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return send(res, 413, { error: "body too large" });
      throw error;
    }
    try {
      verifyWebhook({ headers: req.headers, body, secrets });
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      log(`[demo-crm] rejected a delivery: ${error.reason}`);
      return send(res, 401, { error: error.reason });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return send(res, 400, { error: "body is not JSON" });
    }
    const payload = WebhookPayloadSchema.safeParse(parsed);
    if (!payload.success)
      return send(res, 400, {
        error: "unexpected payload",
        issues: payload.error.issues.map((i) => i.message),
      });

    // verifyWebhook succeeded, so the header is there.
    const webhookId = String(req.headers["webhook-id"]);
    const duplicate = seen.has(webhookId);
    seen.add(webhookId);
    deliveries.push({ webhookId, receivedAt: new Date().toISOString(), duplicate, payload: payload.data });
    log(`${describe(payload.data)}${duplicate ? " (duplicate)" : ""}`);
    send(res, 204);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`[demo-crm] internal error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.destroy();
    });
  });

  return {
    server,
    deliveries,
    async listen(port, host) {
      server.listen(port, host);
      await once(server, "listening");
      return (server.address() as AddressInfo).port;
    },
    async close() {
      if (!server.listening) return;
      const closed = once(server, "close");
      server.close();
      server.closeIdleConnections();
      await closed;
    },
  };
}
