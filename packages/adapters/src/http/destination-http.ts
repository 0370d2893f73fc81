import { AsyncLocalStorage } from "node:async_hooks";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import type { LookupFunction } from "node:net";
import { DestinationError, HandoffSyncError, RetryableDeliveryError } from "@handoff-sync/schema";
import { Agent, ProxyAgent, request, type Dispatcher } from "undici";
import { guardedLookup, PrivateNetworkError } from "./guarded-lookup.js";
import { isPrivateAddress } from "./private-network.js";
import { responseExcerpt } from "./response-excerpt.js";
import { requestDeadline } from "./request-deadline.js";
import { guardedDispatcher } from "./send-guard.js";

export const USER_AGENT = "handoff-sync/0.1";
const MAX_BODY_BYTES = 4 * 1_048_576;

export interface ProxySettings {
  readonly httpsProxy?: string;
  readonly httpProxy?: string;
  /** Comma-separated hosts or domain suffixes that bypass the proxy, as in NO_PROXY. */
  readonly noProxy?: string;
}

export interface DestinationHttpSettings {
  readonly destination: string;
  readonly timeoutMs: number;
  readonly connections: number;
  readonly allowPrivateNetwork: boolean;
  readonly tls?: {
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
    readonly rejectUnauthorized?: boolean;
  };
  readonly proxy?: ProxySettings;
  /** Injected in tests; defaults to `dns.lookup`. */
  readonly lookup?: LookupFunction;
}

export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly url: string | URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal?: AbortSignal | undefined;
  /** Sent as the `traceparent` header; defaults to the delivery's (see `withTraceparent`). */
  readonly traceparent?: string | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The whole body as text (bodies are capped at 4 MiB). */
  readonly text: string;
  /** `JSON.parse(text)`, or undefined when the body is not JSON. */
  json(): unknown;
  /** At most 512 bytes of the body with credentials removed, for attempt logs. */
  excerpt(): string;
}

export interface DestinationHttp {
  send(req: HttpRequest): Promise<HttpResponse>;
  close(): Promise<void>;
}

// Scoped to one delivery, so every request it makes (token refreshes and lookups included) joins
// its trace without each adapter threading the value through its helpers.
const deliveryTraceparent = new AsyncLocalStorage<string>();

/** Runs `fn` so that every `send()` inside it carries this `traceparent` header. */
export function withTraceparent<T>(traceparent: string | undefined, fn: () => Promise<T>): Promise<T> {
  return traceparent === undefined ? fn() : deliveryTraceparent.run(traceparent, fn);
}

function bypassesProxy(host: string, noProxy: string | undefined): boolean {
  if (noProxy === undefined || noProxy.trim() === "") return false;
  return noProxy
    .split(",")
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean)
    .some(
      (entry) =>
        entry === "*" ||
        host === entry.replace(/^\./, "") ||
        host.endsWith(entry.startsWith(".") ? entry : `.${entry}`),
    );
}

function privateNetworkError(
  destination: string,
  host: string,
  address: string,
  cause?: unknown,
): DestinationError {
  return new DestinationError(
    `refusing to connect ${destination} to ${host}: it resolves to ${address}, a private or loopback address`,
    {
      adminHint:
        "Point the destination at a public endpoint, or set allow_private_network: true if it is meant to be internal.",
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

async function readBody(body: Dispatcher.ResponseData["body"]): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) break;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * One destination's HTTP: a keep-alive pool (through a proxy when configured), timeouts, custom CA
 * and client certificates, and the private-network guard. Transport failures become retryable
 * delivery errors; a refused private address parks the destination. Status codes are left to the
 * adapter's classifier.
 */
export interface DestinationDispatcher {
  /** The keep-alive pool for this URL: direct, or through the configured proxy. */
  dispatcherFor(url: URL): Dispatcher;
  /**
   * Throws PrivateNetworkError, before anything is sent, when the guard is on and the URL's host
   * is a private IP literal or, when the request goes through a proxy, resolves to a private
   * address. Direct connections are also checked at connect time, on the address dialled.
   */
  guard(url: URL): Promise<void>;
  close(): Promise<void>;
}

/** Every address `hostname` resolves to, through the injected lookup or `dns.lookup`. */
function resolveAll(hostname: string, lookup: LookupFunction | undefined): Promise<readonly LookupAddress[]> {
  return new Promise((resolve, reject) => {
    const callback = (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ): void => {
      if (error) reject(error);
      else resolve(Array.isArray(address) ? address : [{ address, family: family ?? 4 }]);
    };
    if (lookup === undefined) dnsLookup(hostname, { all: true }, callback);
    else lookup(hostname, { all: true }, callback);
  });
}

/**
 * One destination's connection pools: direct, or through HTTPS_PROXY/HTTP_PROXY unless NO_PROXY
 * names the host, with its timeouts, CA bundle, client certificate and private-network guard.
 */
export function createDestinationDispatcher(
  settings: Omit<DestinationHttpSettings, "destination">,
): DestinationDispatcher {
  const connect = {
    timeout: settings.timeoutMs,
    ...(settings.tls?.ca !== undefined ? { ca: settings.tls.ca } : {}),
    ...(settings.tls?.cert !== undefined ? { cert: settings.tls.cert } : {}),
    ...(settings.tls?.key !== undefined ? { key: settings.tls.key } : {}),
    ...(settings.tls?.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    ...(settings.allowPrivateNetwork
      ? settings.lookup === undefined
        ? {}
        : { lookup: settings.lookup }
      : { lookup: guardedLookup(settings.lookup) }),
  };
  const direct = new Agent({ connections: settings.connections, connect });
  const proxies = new Map<string, ProxyAgent>();
  const proxyFor = (url: URL): string | undefined => {
    const proxyUrl = url.protocol === "https:" ? settings.proxy?.httpsProxy : settings.proxy?.httpProxy;
    return proxyUrl === undefined || proxyUrl === "" || bypassesProxy(url.hostname, settings.proxy?.noProxy)
      ? undefined
      : proxyUrl;
  };
  return {
    async guard(url) {
      if (settings.allowPrivateNetwork) return;
      const host = url.hostname.replace(/^\[|\]$/g, "");
      if (isIP(host) !== 0) {
        // The connect-time lookup never runs for IP literals.
        if (isPrivateAddress(host)) throw new PrivateNetworkError(host, host);
        return;
      }
      // Through a proxy the target is resolved and dialled by the proxy, and the connect-time
      // lookup only ever sees the proxy's own address: resolve the target here and refuse it first.
      if (proxyFor(url) === undefined) return;
      // A name only the proxy can resolve may well be internal: a lookup failure fails the attempt
      // (retryable, as a DNS failure on a direct connection is) rather than passing unchecked.
      const addresses = await resolveAll(host, settings.lookup);
      const bad = addresses.find((entry) => isPrivateAddress(entry.address));
      if (bad !== undefined) throw new PrivateNetworkError(host, bad.address);
    },
    dispatcherFor(url) {
      const proxyUrl = proxyFor(url);
      if (proxyUrl === undefined) return direct;
      let agent = proxies.get(proxyUrl);
      if (agent === undefined) {
        agent = new ProxyAgent({
          uri: proxyUrl,
          connections: settings.connections,
          requestTls: connect,
          proxyTls: { timeout: settings.timeoutMs },
        });
        proxies.set(proxyUrl, agent);
      }
      return agent;
    },
    async close() {
      await Promise.all([direct.close(), ...[...proxies.values()].map((agent) => agent.close())]);
    },
  };
}

export function createDestinationHttp(settings: DestinationHttpSettings): DestinationHttp {
  const pools = createDestinationDispatcher(settings);
  const dispatcherFor = (url: URL): Dispatcher => pools.dispatcherFor(url);

  return {
    async send(req) {
      const url = typeof req.url === "string" ? new URL(req.url) : req.url;
      const deadline = requestDeadline(settings.timeoutMs, req.signal);
      const traceparent = req.traceparent ?? deliveryTraceparent.getStore();
      try {
        await pools.guard(url);
        const response = await request(url, {
          method: req.method,
          dispatcher: guardedDispatcher(dispatcherFor(url), req.method),
          signal: deadline.signal,
          headersTimeout: settings.timeoutMs,
          bodyTimeout: settings.timeoutMs,
          headers: {
            "user-agent": USER_AGENT,
            ...(traceparent === undefined ? {} : { traceparent }),
            ...req.headers,
          },
          ...(req.body !== undefined ? { body: req.body } : {}),
        });
        const text = await readBody(response.body);
        return {
          status: response.statusCode,
          headers: response.headers,
          text,
          json: () => {
            try {
              return JSON.parse(text) as unknown;
            } catch {
              return undefined;
            }
          },
          excerpt: () => responseExcerpt(Buffer.from(text)),
        };
      } catch (error) {
        // The send guard's own verdict, already classified.
        if (error instanceof HandoffSyncError) throw error;
        const refused = findPrivateNetworkError(error);
        if (refused !== undefined)
          throw privateNetworkError(settings.destination, refused.host, refused.address, error);
        const reason = deadline.timedOut()
          ? `timed out after ${settings.timeoutMs} ms`
          : req.signal?.aborted
            ? "aborted"
            : "network error";
        const detail = error instanceof Error ? `: ${error.message}` : "";
        throw new RetryableDeliveryError(
          `${req.method} ${url.origin}${url.pathname} for ${settings.destination} failed (${reason})${detail}`,
          {
            cause: error,
          },
        );
      } finally {
        deadline.dispose();
      }
    },
    close: () => pools.close(),
  };
}

/** The destination file's `connection.tls` as the HTTP client takes it. */
export function tlsSettings(tls: {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly reject_unauthorized: boolean;
}): NonNullable<DestinationHttpSettings["tls"]> {
  return {
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    rejectUnauthorized: tls.reject_unauthorized,
  };
}

/** What every destination's config has for its connection (the shared `destinationBase` fields). */
export interface ConnectionConfig {
  readonly timeout_ms: number;
  readonly concurrency: number;
  readonly allow_private_network: boolean;
  readonly connection?: { readonly tls?: Parameters<typeof tlsSettings>[0] | undefined } | undefined;
}

/** The HTTP settings of one destination from its config and the service's runtime options. */
export function destinationHttpSettings(
  destination: string,
  config: ConnectionConfig,
  options: {
    readonly proxy?: ProxySettings | undefined;
    readonly lookup?: LookupFunction | undefined;
    readonly extraConnections?: number;
  },
): DestinationHttpSettings {
  const tls = config.connection?.tls;
  return {
    destination,
    timeoutMs: config.timeout_ms,
    connections: config.concurrency + (options.extraConnections ?? 0),
    allowPrivateNetwork: config.allow_private_network,
    ...(tls === undefined ? {} : { tls: tlsSettings(tls) }),
    ...(options.proxy === undefined ? {} : { proxy: options.proxy }),
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
  };
}
