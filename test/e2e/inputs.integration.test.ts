import { createEnricher } from "@handoff-sync/adapters";
import { HandoffSnapshotSchema, RetryableDeliveryError } from "@handoff-sync/schema";
import {
  createEnrichmentCache,
  createHandoffStore,
  createKeyLayout,
  createRedisClient,
} from "@handoff-sync/store";
import {
  type FakeHandoffApi,
  type Pipeline,
  startFakeHandoffApi,
  startPipeline,
  testRedisTarget,
  uniqueName,
  waitFor,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const UPSTREAM_KEY = "upstream-key-0123456789";

describe("chat/respond payloads through the pipeline, enriched from the upstream Handoff API", () => {
  let pipeline: Pipeline;
  let upstream: FakeHandoffApi;

  beforeAll(async () => {
    upstream = await startFakeHandoffApi({ apiKey: UPSTREAM_KEY });
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      sourceYaml: [
        "  format: chat_respond",
        "  chat_respond:",
        "    channel: webchat",
        "    data:",
        "      agent_message: response",
        "      customer_id: metadata.customer_id",
        "  enrichment:",
        `    url: ${upstream.baseUrl}`,
        "    api_key: env:UPSTREAM_API_KEY",
        "    timeout_ms: 2000",
        "    allow_private_network: true",
      ].join("\n"),
      env: { UPSTREAM_API_KEY: UPSTREAM_KEY },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    await upstream?.close();
  });

  it("normalises a handoff, skips turns without one, and delivers upstream data under the payload's own", async () => {
    const conversationId = uniqueName("CONV");
    upstream.put({
      id: conversationId,
      data: { customer_id: "upstream-id", verification_status: "verified", entities: { order: "A-1" } },
    });
    const key = (): string => conversationId;
    await pipeline.produce(
      [
        { conversation_id: conversationId, response: "How can I help?", end_conversation: false },
        {
          conversation_id: conversationId,
          response: "Transferring you to a live agent.",
          end_conversation: true,
          handoff: { destination: "live_agent_queue", reason: "billing_question" },
          metadata: { customer_id: "12345" },
        },
      ],
      key,
    );
    const delivered = await waitFor(
      async () => (await pipeline.deliveries()).find((d) => d.key === conversationId),
      { message: "chat handoff delivered" },
    );
    expect(delivered.state).toBe("handoff_initiated");
    expect(delivered.version).toBe(1);
    // The payload's customer_id wins; the rest comes from the upstream Handoff API.
    expect(delivered.data).toEqual({
      customer_id: "12345",
      agent_message: "Transferring you to a live agent.",
      verification_status: "verified",
      entities: { order: "A-1" },
    });
    expect(upstream.lookups).toContainEqual({ query: `id=${conversationId}`, apiKey: UPSTREAM_KEY });

    const redis = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")));
    try {
      const stored = await createHandoffStore({ redis, prefix: pipeline.prefix, retentionMs: 0 }).get(
        conversationId,
      );
      expect(stored).toMatchObject({
        id: conversationId,
        channel: "webchat",
        destination: "live_agent_queue",
        reason: "billing_question",
      });
      expect(stored?.history.map((h) => h.event_id)).toEqual([
        expect.stringMatching(/^sha256-[0-9a-f]{64}$/) as unknown,
      ]);
    } finally {
      redis.disconnect();
    }

    // The turn without a handoff was counted as skipped, not rejected.
    const metrics = await (
      await fetch(`http://127.0.0.1:${pipeline.services.get("consumer")?.port}/metrics`)
    ).text();
    expect(metrics).toMatch(/handoff_sync_events_consumed_total\{[^}]*result="skipped"[^}]*\} [1-9]/);
    expect(metrics).not.toMatch(/handoff_sync_events_rejected_total\{[^}]*\} [1-9]/);
  });
});

describe("enrichment cache in Redis", () => {
  const redis = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")));
  let upstream: FakeHandoffApi;
  afterAll(async () => {
    redis.disconnect();
    await upstream?.close();
  });

  it("is shared by workers per handoff version, expires with the handoff, and is erased with it", async () => {
    upstream = await startFakeHandoffApi({ apiKey: UPSTREAM_KEY });
    const prefix = uniqueName("t");
    const key = uniqueName("acme");
    upstream.put({ id: "conv-1", shared_id: key, data: { customer_id: "12345" } });
    const retentionMs = 60_000;
    const cache = createEnrichmentCache({ redis, prefix, retentionMs });
    const settings = {
      url: upstream.baseUrl,
      api_key: UPSTREAM_KEY,
      timeout_ms: 2000,
      allow_private_network: true,
      not_found_retry_ms: 60_000,
    };
    // Two workers, each with its own enricher, one Redis.
    const workers = [
      createEnricher({ enrichment: settings, cache }),
      createEnricher({ enrichment: settings, cache }),
    ];
    const at = new Date().toISOString();
    const snapshot = (version: number) =>
      HandoffSnapshotSchema.parse({
        schema_version: 1,
        key,
        id: "conv-1",
        shared_id: key,
        state: "handoff_initiated",
        stage: "initiated",
        version,
        occurred_at: at,
        data: {},
        history: [
          {
            event_id: "e1",
            id: "conv-1",
            shared_id: key,
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
    const signal = new AbortController().signal;
    try {
      for (const worker of workers)
        expect((await worker.enrich(snapshot(1), signal)).data).toEqual({ customer_id: "12345" });
      expect(upstream.lookups).toHaveLength(1);
      const cacheKey = createKeyLayout(prefix).enrichment(key);
      expect(cacheKey).toContain(`{h:${key}}`);
      const ttl = await redis.pttl(cacheKey);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(retentionMs);

      // A new version asks again; an upstream outage then is a retryable failure, never stale data.
      upstream.faults.next({ kind: "status", status: 503, headers: { "retry-after": "1" } });
      await expect(workers[1]?.enrich(snapshot(2), signal)).rejects.toBeInstanceOf(RetryableDeliveryError);
      expect((await workers[1]?.enrich(snapshot(2), signal))?.data).toEqual({ customer_id: "12345" });
      // The 503 was answered before the fake's handler, so only the two good lookups are logged.
      expect(upstream.lookups).toHaveLength(2);

      // Erasing the handoff erases what was fetched for it.
      const store = createHandoffStore({ redis, prefix, retentionMs });
      await store.erase(key, []);
      expect(await redis.exists(cacheKey)).toBe(0);
    } finally {
      await Promise.all(workers.map((worker) => worker.close()));
    }
  });
});
