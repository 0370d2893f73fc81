import {
  AuthError,
  DestinationError,
  HandoffSnapshotSchema,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import { startFakeHandoffApi, type FakeHandoffApi } from "@handoff-sync/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  classifyUpstreamResponse,
  createEnricher,
  handoffStateUrl,
  type Enricher,
  type EnrichmentCacheLike,
  type EnrichmentSettings,
} from "./enricher.js";

// Against a local fake of the upstream Handoff API; no Kafka or Redis.

const API_KEY = "upstream-key-0123456789";
const created = "2026-11-25T10:00:00.000Z";

function snapshot(
  fields: { shared_id?: string; version?: number; data?: Record<string, unknown>; created_at?: string } = {},
): HandoffSnapshot {
  return HandoffSnapshotSchema.parse({
    schema_version: 1,
    key: fields.shared_id ?? "conv-1",
    id: "conv-1",
    ...(fields.shared_id !== undefined ? { shared_id: fields.shared_id } : {}),
    state: "handoff_initiated",
    stage: "initiated",
    version: fields.version ?? 1,
    occurred_at: created,
    data: fields.data ?? {},
    history: [
      {
        event_id: "e1",
        id: "conv-1",
        state: "handoff_initiated",
        stage: "initiated",
        occurred_at: created,
        received_at: created,
        data: fields.data ?? {},
      },
    ],
    created_at: fields.created_at ?? created,
    updated_at: created,
  });
}

function memoryCache(): EnrichmentCacheLike & {
  entries: Map<string, { version: number; data: Record<string, unknown> }>;
} {
  const entries = new Map<string, { version: number; data: Record<string, unknown> }>();
  return {
    entries,
    get: (key, version) =>
      Promise.resolve(entries.get(key)?.version === version ? entries.get(key)?.data : undefined),
    set: (key, version, data) => {
      entries.set(key, { version, data });
      return Promise.resolve();
    },
  };
}

let upstream: FakeHandoffApi;
const enrichers: Enricher[] = [];
const signal = new AbortController().signal;
// The handoff is a minute old unless a test says otherwise: within the 404 grace period.
const soon = () => new Date(Date.parse(created) + 60_000);

function enricher(
  overrides: Partial<EnrichmentSettings> = {},
  options: { cache?: EnrichmentCacheLike; now?: () => Date } = {},
): Enricher {
  const made = createEnricher({
    enrichment: {
      url: upstream.baseUrl,
      api_key: API_KEY,
      timeout_ms: 2000,
      allow_private_network: true,
      not_found_retry_ms: 120_000,
      ...overrides,
    },
    now: options.now ?? soon,
    ...(options.cache !== undefined ? { cache: options.cache } : {}),
  });
  enrichers.push(made);
  return made;
}

beforeAll(async () => {
  upstream = await startFakeHandoffApi({ apiKey: API_KEY });
  upstream.put({
    id: "conv-1",
    shared_id: "acme_1",
    data: { customer_id: "12345", handoff_reason: "successfully_identified", tier: "gold" },
  });
  upstream.put({ id: "conv-2", data: { customer_id: "777" } });
});
afterEach(async () => {
  upstream.faults.clear();
  upstream.lookups.length = 0;
  await Promise.all(enrichers.splice(0).map((e) => e.close()));
});
afterAll(async () => {
  await upstream.close();
});

describe("enricher", () => {
  it("fetches by shared_id with x-api-key and merges upstream data under the snapshot's own", async () => {
    const enriched = await enricher().enrich(
      snapshot({ shared_id: "acme_1", data: { tier: "platinum" } }),
      signal,
    );
    expect(enriched.data).toEqual({
      customer_id: "12345",
      handoff_reason: "successfully_identified",
      tier: "platinum",
    });
    expect(upstream.lookups).toEqual([{ query: "shared_id=acme_1", apiKey: API_KEY }]);
  });

  it("falls back to the conversation id when the handoff has no shared_id", async () => {
    const url = handoffStateUrl("https://api.example/v1/acme/support/", { id: "c 1" });
    expect(url.toString()).toBe("https://api.example/v1/acme/support/handoff_state?id=c+1");
    upstream.put({ id: "conv-1", data: { customer_id: "by-id" } });
    try {
      const enriched = await enricher().enrich(snapshot(), signal);
      expect(enriched.data).toEqual({ customer_id: "by-id" });
      expect(upstream.lookups.map((l) => l.query)).toEqual(["id=conv-1"]);
    } finally {
      upstream.put({
        id: "conv-1",
        shared_id: "acme_1",
        data: { customer_id: "12345", handoff_reason: "successfully_identified", tier: "gold" },
      });
    }
  });

  it("asks once per handoff version: retries and other destinations use the cache, a new version refetches", async () => {
    const cache = memoryCache();
    const enrich = enricher({}, { cache });
    await enrich.enrich(snapshot({ shared_id: "acme_1" }), signal);
    await enrich.enrich(snapshot({ shared_id: "acme_1" }), signal);
    expect(upstream.lookups).toHaveLength(1);
    const second = await enrich.enrich(snapshot({ shared_id: "acme_1", version: 2 }), signal);
    expect(upstream.lookups).toHaveLength(2);
    expect(second.data["customer_id"]).toBe("12345");
    expect(cache.entries.get("acme_1")?.version).toBe(2);
  });

  it("classifies failures like deliveries: 5xx and 429 retry with Retry-After, 401/403 is an auth error", async () => {
    upstream.faults.next({ kind: "status", status: 503, body: "down", headers: { "retry-after": "7" } });
    const busy = await enricher()
      .enrich(snapshot({ shared_id: "acme_1" }), signal)
      .catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(RetryableDeliveryError);
    expect(busy).toMatchObject({ status: 503, retryAfterMs: 7000 });

    upstream.faults.next({ kind: "status", status: 429, headers: { "retry-after": "2" } });
    expect(
      await enricher()
        .enrich(snapshot({ shared_id: "acme_1" }), signal)
        .catch((e: unknown) => e),
    ).toMatchObject({ status: 429, retryAfterMs: 2000, retryable: true });

    const refused = await enricher({ api_key: "wrong" })
      .enrich(snapshot({ shared_id: "acme_1" }), signal)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuthError);
    expect(refused).toBeInstanceOf(DestinationError);
    expect((refused as AuthError).adminHint).toContain("source.enrichment.api_key");
  });

  it("retries 404 while the handoff is young, then treats it as permanent", async () => {
    const unknown = snapshot({ shared_id: "nobody" });
    expect(
      await enricher()
        .enrich(unknown, signal)
        .catch((e: unknown) => e),
    ).toBeInstanceOf(RetryableDeliveryError);
    const late = () => new Date(Date.parse(created) + 10 * 60_000);
    expect(
      await enricher({}, { now: late })
        .enrich(unknown, signal)
        .catch((e: unknown) => e),
    ).toBeInstanceOf(PermanentDeliveryError);
  });

  it("refuses an answer that is not a handoff state, or is for another handoff", async () => {
    upstream.faults.next({
      kind: "status",
      status: 200,
      body: "<html>maintenance</html>",
      contentType: "text/html",
    });
    expect(
      await enricher()
        .enrich(snapshot({ shared_id: "acme_1" }), signal)
        .catch((e: unknown) => e),
    ).toBeInstanceOf(RetryableDeliveryError);
    upstream.faults.next({
      kind: "status",
      status: 200,
      body: JSON.stringify({ id: "x", shared_id: "someone_else", data: {} }),
      contentType: "application/json",
    });
    expect(
      await enricher()
        .enrich(snapshot({ shared_id: "acme_1" }), signal)
        .catch((e: unknown) => e),
    ).toBeInstanceOf(PermanentDeliveryError);
  });

  it("refuses a private upstream unless allowed, as for destinations", async () => {
    const error = await enricher({ allow_private_network: false })
      .enrich(snapshot({ shared_id: "acme_1" }), signal)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
  });

  it("maps statuses in one place", () => {
    const options = { nowMs: 0, notFoundIsFinal: false };
    expect(classifyUpstreamResponse(200, {}, options)).toBe("ok");
    expect(classifyUpstreamResponse(500, {}, options)).toBeInstanceOf(RetryableDeliveryError);
    expect(classifyUpstreamResponse(501, {}, options)).toBeInstanceOf(PermanentDeliveryError);
    expect(classifyUpstreamResponse(400, {}, options)).toBeInstanceOf(PermanentDeliveryError);
    expect(classifyUpstreamResponse(403, {}, options)).toBeInstanceOf(AuthError);
    expect(classifyUpstreamResponse(404, {}, { nowMs: 0, notFoundIsFinal: true })).toBeInstanceOf(
      PermanentDeliveryError,
    );
  });
});
