import type { LookupFunction } from "node:net";
import {
  AuthError,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type DeliveryError,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import { z } from "zod";
import { createDestinationHttp, type ProxySettings } from "../http/destination-http.js";
import { headerValue, type HeaderBag } from "../http/headers.js";
import { parseRetryAfter } from "../http/retry-after.js";

/** The destinations file's `source.enrichment`, secrets resolved. */
export interface EnrichmentSettings {
  readonly url: string;
  readonly api_key: string;
  readonly timeout_ms: number;
  readonly allow_private_network: boolean;
  readonly not_found_retry_ms: number;
}

/** Where fetched data is kept per handoff version; the Redis one is `createEnrichmentCache` in the store. */
export interface EnrichmentCacheLike {
  get(key: string, version: number): Promise<Record<string, unknown> | undefined>;
  set(key: string, version: number, data: Record<string, unknown>): Promise<void>;
}

export interface EnricherSettings {
  readonly enrichment: EnrichmentSettings;
  readonly cache?: EnrichmentCacheLike;
  readonly proxy?: ProxySettings;
  readonly lookup?: LookupFunction;
  readonly now?: () => Date;
}

export interface Enricher {
  /** The snapshot with the upstream `data` merged under its own; throws a classified delivery error. */
  enrich(snapshot: HandoffSnapshot, signal: AbortSignal): Promise<HandoffSnapshot>;
  close(): Promise<void>;
}

/** The Handoff API's answer, as in the product documentation: `{id, shared_id, data}`. */
export const HandoffStateResponseSchema = z.object({
  id: z.string().optional(),
  shared_id: z.string().nullish(),
  data: z.record(z.string(), z.unknown()).nullish(),
});

// Worth another try: the upstream is busy, throttling or briefly down (as for CRMs).
const RETRYABLE_4XX = new Set([408, 423, 425, 429]);

/**
 * The single place that maps an upstream Handoff API response to an outcome. 404 means the
 * upstream does not know the handoff (yet): while the handoff is young that is likely a race with
 * the platform writing it, so it is retried; after `not_found_retry_ms` it is permanent.
 */
export function classifyUpstreamResponse(
  status: number,
  headers: HeaderBag,
  options: { readonly responseExcerpt?: string; readonly nowMs: number; readonly notFoundIsFinal: boolean },
): "ok" | DeliveryError {
  if (status >= 200 && status < 300) return "ok";
  const base = {
    status,
    ...(options.responseExcerpt === undefined ? {} : { responseExcerpt: options.responseExcerpt }),
  };
  if (status === 401 || status === 403) {
    return new AuthError(`enrichment: the Handoff API refused the api key (${status})`, {
      ...base,
      adminHint:
        "Check source.enrichment.api_key and that the key may read this project's handoff state, then resume the queue.",
    });
  }
  if (status === 404) {
    return options.notFoundIsFinal
      ? new PermanentDeliveryError("enrichment: the Handoff API does not know this handoff (404)", base)
      : new RetryableDeliveryError("enrichment: the Handoff API does not know this handoff yet (404)", base);
  }
  if (RETRYABLE_4XX.has(status) || (status >= 500 && status !== 501) || status < 200) {
    const retryAfterMs = parseRetryAfter(headerValue(headers, "retry-after"), options.nowMs);
    return new RetryableDeliveryError(`enrichment: the Handoff API answered ${status}`, {
      ...base,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  return new PermanentDeliveryError(`enrichment: the Handoff API answered ${status}`, base);
}

/** `GET {url}/handoff_state?shared_id=...`, or `?id=...` for a handoff without one: shared_id wins, as in the API. */
export function handoffStateUrl(base: string, snapshot: Pick<HandoffSnapshot, "id" | "shared_id">): URL {
  const url = new URL(`${base.replace(/\/+$/, "")}/handoff_state`);
  if (snapshot.shared_id !== undefined) url.searchParams.set("shared_id", snapshot.shared_id);
  else url.searchParams.set("id", snapshot.id);
  return url;
}

/**
 * Completes a snapshot whose events carry only ids with the upstream Handoff API's `data`. The
 * snapshot's own data wins over the upstream's: it came from this pipeline's events, which are
 * at least as recent as the upstream's view. Results are cached per handoff version, so retries,
 * other destinations and other workers do not ask again.
 */
export function createEnricher(settings: EnricherSettings): Enricher {
  const { enrichment } = settings;
  const now = settings.now ?? (() => new Date());
  const http = createDestinationHttp({
    destination: "enrichment",
    timeoutMs: enrichment.timeout_ms,
    connections: 16,
    allowPrivateNetwork: enrichment.allow_private_network,
    ...(settings.proxy !== undefined ? { proxy: settings.proxy } : {}),
    ...(settings.lookup !== undefined ? { lookup: settings.lookup } : {}),
  });

  const fetchData = async (
    snapshot: HandoffSnapshot,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> => {
    const response = await http.send({
      method: "GET",
      url: handoffStateUrl(enrichment.url, snapshot),
      headers: { "x-api-key": enrichment.api_key, accept: "application/json" },
      signal,
    });
    const nowMs = now().getTime();
    const outcome = classifyUpstreamResponse(response.status, response.headers, {
      responseExcerpt: response.excerpt(),
      nowMs,
      notFoundIsFinal: nowMs - Date.parse(snapshot.created_at) >= enrichment.not_found_retry_ms,
    });
    if (outcome !== "ok") throw outcome;
    const parsed = HandoffStateResponseSchema.safeParse(response.json());
    if (!parsed.success) {
      // A broken answer from a healthy-looking upstream is more likely a deploy in progress than this record's fault.
      throw new RetryableDeliveryError(
        "enrichment: the Handoff API answered without a {id, shared_id, data} object",
        {
          status: response.status,
          responseExcerpt: response.excerpt(),
        },
      );
    }
    const answered = parsed.data.shared_id;
    if (
      snapshot.shared_id !== undefined &&
      answered !== undefined &&
      answered !== null &&
      answered !== snapshot.shared_id
    ) {
      // Never put another conversation's customer data in front of a live agent.
      throw new PermanentDeliveryError(
        `enrichment: asked for shared_id ${snapshot.shared_id}, the Handoff API answered for another handoff`,
        { status: response.status },
      );
    }
    return parsed.data.data ?? {};
  };

  return {
    async enrich(snapshot, signal) {
      let upstream = await settings.cache?.get(snapshot.key, snapshot.version);
      if (upstream === undefined) {
        upstream = await fetchData(snapshot, signal);
        await settings.cache?.set(snapshot.key, snapshot.version, upstream);
      }
      return { ...snapshot, data: { ...upstream, ...snapshot.data } };
    },
    close: () => http.close(),
  };
}
