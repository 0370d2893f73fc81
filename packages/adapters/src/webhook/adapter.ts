import { isIP } from "node:net";
import type { LookupFunction } from "node:net";
import type { WebhookDestination, Resolved } from "@handoff-sync/config";
import { DestinationError, HandoffSyncError, RetryableDeliveryError } from "@handoff-sync/schema";
import { request, type Dispatcher } from "undici";
import type { Adapter, DeliveryRequest, DeliveryResult, PreviewRequest } from "../contract.js";
import { PrivateNetworkError } from "../http/guarded-lookup.js";
import { isPrivateAddress } from "../http/private-network.js";
import {
  createDestinationDispatcher,
  tlsSettings,
  USER_AGENT,
  type ProxySettings,
} from "../http/destination-http.js";
import { maskHeaders } from "../http/mask-headers.js";
import { requestDeadline } from "../http/request-deadline.js";
import { guardedDispatcher } from "../http/send-guard.js";
import { EXCERPT_BYTES, responseExcerpt } from "../http/response-excerpt.js";
import { classifyWebhookResponse } from "./classify.js";
import { webhookMessageId } from "./message-id.js";
import { webhookBody } from "./payload.js";
import { createWebhookSigner } from "./sign.js";

// Read a little past the excerpt so redaction sees whole tokens at the cut.
const EXCERPT_READ_BYTES = EXCERPT_BYTES * 8;

export type WebhookConfig = Resolved<WebhookDestination>;

export interface WebhookAdapterOptions {
  /** Injected in tests; defaults to the wall clock. */
  readonly nowMs?: () => number;
  /** Injected in tests; defaults to `dns.lookup`. */
  readonly lookup?: LookupFunction;
  readonly proxy?: ProxySettings;
}

async function readExcerpt(body: Dispatcher.ResponseData["body"]): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      chunks.push(buffer);
      size += buffer.length;
      if (size >= EXCERPT_READ_BYTES) break; // Leaving the loop destroys the rest of the stream.
    }
  } catch {
    // A body that fails half-way still leaves what we read; the status is what matters.
  }
  return responseExcerpt(Buffer.concat(chunks).subarray(0, EXCERPT_READ_BYTES));
}

function privateNetworkError(host: string, address: string, cause?: unknown): DestinationError {
  return new DestinationError(
    `refusing to deliver to ${host}: it resolves to ${address}, a private or loopback address`,
    {
      adminHint:
        "Point the destination at a public endpoint, or set allow_private_network: true if the receiver is meant to be internal.",
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

function findPrivateNetworkError(error: unknown): PrivateNetworkError | undefined {
  for (
    let current = error, depth = 0;
    current instanceof Error && depth < 5;
    current = current.cause, depth++
  ) {
    if (current instanceof PrivateNetworkError) return current;
    if (current instanceof AggregateError) {
      const inner = current.errors.find((e): e is PrivateNetworkError => e instanceof PrivateNetworkError);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/** Signed Standard Webhooks v1 delivery; one keep-alive connection pool per destination. */
export function createWebhookAdapter(
  name: string,
  config: WebhookConfig,
  options: WebhookAdapterOptions = {},
): Adapter {
  const url = new URL(config.url);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const now = options.nowMs ?? Date.now;
  const pools = createDestinationDispatcher({
    timeoutMs: config.timeout_ms,
    connections: config.concurrency,
    allowPrivateNetwork: config.allow_private_network,
    ...(config.connection?.tls !== undefined ? { tls: tlsSettings(config.connection.tls) } : {}),
    ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
    ...(options.lookup !== undefined ? { lookup: options.lookup } : {}),
  });
  const agent = pools.dispatcherFor(url);
  const sign = createWebhookSigner(config.secret);

  /** The one place the request is built, so `preview` shows exactly what `deliver` sends. */
  function buildRequest({ snapshot, destination, traceparent }: DeliveryRequest): {
    headers: Record<string, string>;
    body: string;
  } {
    const body = webhookBody(snapshot);
    const id = webhookMessageId(destination, snapshot.key, snapshot.version);
    const timestampSec = Math.floor(now() / 1_000);
    return {
      headers: {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": id,
        "webhook-timestamp": String(timestampSec),
        "webhook-signature": sign({ id, timestampSec, body }),
        ...(traceparent === undefined ? {} : { traceparent }),
      },
      body,
    };
  }

  function refusePrivateLiteral(): void {
    // The connect-time lookup never runs for IP literals, so those are checked here.
    if (!config.allow_private_network && isIP(host) !== 0 && isPrivateAddress(host))
      throw privateNetworkError(host, host);
  }

  async function deliver(delivery: DeliveryRequest): Promise<DeliveryResult> {
    refusePrivateLiteral();
    const { signal } = delivery;
    const { headers, body } = buildRequest(delivery);
    await delivery.beforeWrite?.();
    const deadline = requestDeadline(config.timeout_ms, signal);
    try {
      let response: Dispatcher.ResponseData;
      try {
        await pools.guard(url);
        response = await request(url, {
          method: "POST",
          dispatcher: guardedDispatcher(agent, "POST"),
          signal: deadline.signal,
          headersTimeout: config.timeout_ms,
          bodyTimeout: config.timeout_ms,
          headers,
          body,
        });
      } catch (error) {
        // The send guard's own verdict, already classified.
        if (error instanceof HandoffSyncError) throw error;
        const refused = findPrivateNetworkError(error);
        if (refused !== undefined) throw privateNetworkError(refused.host, refused.address, error);
        const reason = deadline.timedOut()
          ? `timed out after ${config.timeout_ms} ms`
          : signal?.aborted
            ? "aborted"
            : "network error";
        const detail = error instanceof Error ? `: ${error.message}` : "";
        throw new RetryableDeliveryError(`webhook to ${name} failed (${reason})${detail}`, { cause: error });
      }

      const outcome = classifyWebhookResponse(response.statusCode, response.headers, { nowMs: now() });
      if (outcome === "ok") {
        // Drain so the connection goes back to the pool.
        await response.body.dump().catch(() => undefined);
        return { status: response.statusCode };
      }
      // Classified again only to attach the excerpt, read after deciding so 2xx bodies are never buffered.
      const excerpt = await readExcerpt(response.body);
      const failure = classifyWebhookResponse(response.statusCode, response.headers, {
        nowMs: now(),
        ...(excerpt === "" ? {} : { responseExcerpt: excerpt }),
      });
      throw failure === "ok" ? outcome : failure;
    } finally {
      deadline.dispose();
    }
  }

  function preview(delivery: DeliveryRequest): PreviewRequest[] {
    const { headers, body } = buildRequest(delivery);
    return [{ method: "POST", url: url.href, headers: maskHeaders(headers), body }];
  }

  /**
   * Webhooks have no credentials to test, so this proves reachability only: a HEAD request through
   * the same pool and guards as deliveries, where any HTTP answer (even 404 or 405) counts.
   */
  async function check(): Promise<void> {
    refusePrivateLiteral();
    const timeout = AbortSignal.timeout(config.timeout_ms);
    try {
      await pools.guard(url);
      const response = await request(url, {
        method: "HEAD",
        dispatcher: agent,
        signal: timeout,
        headersTimeout: config.timeout_ms,
        headers: { "user-agent": USER_AGENT },
      });
      await response.body.dump().catch(() => undefined);
    } catch (error) {
      const refused = findPrivateNetworkError(error);
      if (refused !== undefined) throw privateNetworkError(refused.host, refused.address, error);
      const reason = timeout.aborted ? `timed out after ${config.timeout_ms} ms` : "network error";
      const detail = error instanceof Error ? `: ${error.message}` : "";
      throw new RetryableDeliveryError(`webhook ${name} is not reachable (${reason})${detail}`, {
        cause: error,
      });
    }
  }

  return {
    type: "webhook",
    deliver,
    preview,
    check,
    close: () => pools.close(),
  };
}
