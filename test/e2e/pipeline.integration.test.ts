import { createRedisClient } from "@handoff-sync/store";
import { randomUUID } from "node:crypto";
import { destinationQueueNames } from "@handoff-sync/queue";
import { startPipeline, uniqueName, waitFor, type Pipeline, testRedisTarget } from "@handoff-sync/testing";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

function event(fields: {
  id: string;
  shared_id?: string;
  state: string;
  at: string;
  data?: Record<string, unknown>;
}) {
  return {
    event_id: randomUUID(),
    id: fields.id,
    ...(fields.shared_id !== undefined ? { shared_id: fields.shared_id } : {}),
    state: fields.state,
    occurred_at: fields.at,
    data: fields.data ?? {},
  };
}

async function handoff(
  pipeline: Pipeline,
  query: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await pipeline.api(`/v1/handoffs?${query}`, { scope: "read" });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("pipeline: Kafka -> consumer -> Redis -> worker -> webhook CRM", () => {
  let pipeline: Pipeline;
  const redis = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")));

  beforeAll(async () => {
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    redis.disconnect();
  });

  it("delivers handoff_initiated then handoff_completed, and the API returns both in the history", async () => {
    const sharedId = uniqueName("acme");
    const id = randomUUID();
    await pipeline.produce([
      event({
        id,
        shared_id: sharedId,
        state: "handoff_initiated",
        at: "2026-11-25T10:00:00.000Z",
        data: { customer_id: "12345" },
      }),
    ]);
    await waitFor(async () => (await pipeline.deliveries()).some((d) => d.key === sharedId), {
      message: "first delivery",
    });
    await pipeline.produce([
      event({
        id,
        shared_id: sharedId,
        state: "handoff_completed",
        at: "2026-11-25T10:01:00.000Z",
        data: { handoff_reason: "successfully_identified" },
      }),
    ]);
    const mine = await waitFor(
      async () => {
        const list = (await pipeline.deliveries()).filter((d) => d.key === sharedId);
        return list.some((d) => d.state === "handoff_completed") ? list : undefined;
      },
      { message: "completed delivery" },
    );
    const last = mine.at(-1);
    expect(last?.state).toBe("handoff_completed");
    expect(last?.version).toBe(2);
    expect(last?.data).toEqual({ customer_id: "12345", handoff_reason: "successfully_identified" });

    const byShared = await handoff(pipeline, `shared_id=${sharedId}&id=unknown-id`);
    expect(byShared.status).toBe(200);
    expect(byShared.body).toMatchObject({ id, shared_id: sharedId, state: "handoff_completed", version: 2 });
    expect((byShared.body.history as { state: string }[]).map((h) => h.state)).toEqual([
      "handoff_initiated",
      "handoff_completed",
    ]);
    const byId = await handoff(pipeline, `id=${id}`);
    expect(byId.body).toMatchObject({ shared_id: sharedId, state: "handoff_completed" });
    // shared_id wins and never falls back to id.
    expect((await handoff(pipeline, `shared_id=nope-${sharedId}&id=${id}`)).status).toBe(404);
    expect((await handoff(pipeline, "")).status).toBe(400);
  });

  it("ends at the latest state when a later event arrives first", async () => {
    const sharedId = uniqueName("ooo");
    const id = randomUUID();
    await pipeline.produce([
      event({ id, shared_id: sharedId, state: "handoff_completed", at: "2026-11-25T11:05:00.000Z" }),
      event({ id, shared_id: sharedId, state: "handoff_initiated", at: "2026-11-25T11:00:00.000Z" }),
    ]);
    await waitFor(async () => (await handoff(pipeline, `shared_id=${sharedId}`)).body.version === 2, {
      message: "both applied",
    });
    const stored = await handoff(pipeline, `shared_id=${sharedId}`);
    expect(stored.body.state).toBe("handoff_completed");
    const final = await waitFor(
      async () => {
        const list = (await pipeline.deliveries()).filter((d) => d.key === sharedId);
        return list.at(-1)?.version === 2 ? list : undefined;
      },
      { message: "version 2 delivered" },
    );
    expect(final.at(-1)?.state).toBe("handoff_completed");
    // Never written backward: versions only grow at the receiver.
    const versions = final.map((d) => d.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
  });

  it("rejects an invalid event to the rejected-events topic with its reason while the next event flows", async () => {
    const consumer = pipeline.kafka.consumer({
      groupId: uniqueName("dlq-reader"),
      sessionTimeout: 8000,
      heartbeatInterval: 1000,
    });
    const rejected: { value: string; headers: Record<string, string> }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: pipeline.rejectedTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
        );
        rejected.push({ value: String(message.value), headers });
        return Promise.resolve();
      },
    });
    const sharedId = uniqueName("after-bad");
    await pipeline.produceRaw(["{not json", JSON.stringify({ id: "x", state: "handoff_initiated" })]);
    await pipeline.produce([
      event({
        id: randomUUID(),
        shared_id: sharedId,
        state: "customer_refund",
        at: "2026-11-25T12:00:00.000Z",
      }),
    ]);
    await waitFor(async () => (await pipeline.deliveries()).some((d) => d.key === sharedId), {
      message: "valid event after bad ones",
    });
    await waitFor(() => rejected.length >= 2, { message: "two rejections" });
    await consumer.disconnect();
    const reasons = rejected.map((r) => r.headers["handoff-sync-reject-reason"]);
    expect(reasons).toEqual(expect.arrayContaining(["invalid_json", "schema_violation"]));
    const bad = rejected.find((r) => r.headers["handoff-sync-reject-reason"] === "invalid_json");
    expect(bad?.value).toBe("{not json");
    expect(bad?.headers["handoff-sync-source-topic"]).toBe(pipeline.topic);
    expect(bad?.headers["handoff-sync-source-offset"]).toMatch(/^\d+$/);
    const violation = rejected.find((r) => r.headers["handoff-sync-reject-reason"] === "schema_violation");
    expect(violation?.headers["handoff-sync-reject-error"]).toContain("event_id");
  });

  it("exposes metrics on each service that agree with what the receiver and the rejected topic saw", async () => {
    const scrape = async (name: "consumer" | "worker"): Promise<string> => {
      const port = pipeline.services.get(name)?.port;
      return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    };
    // Sums the samples of a metric whose labels include all the given ones.
    const value = (text: string, series: string): number => {
      const [name, labelText = ""] = series.replace(/}$/, "").split("{");
      const wanted = labelText.split(",").filter(Boolean);
      return text
        .split("\n")
        .filter((l) => l.startsWith(`${name}{`) && wanted.every((label) => l.includes(label)))
        .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
    };
    const received = (await pipeline.deliveries()).filter((d) => !d.duplicate).length;
    const worker = await scrape("worker");
    expect(value(worker, 'handoff_sync_delivery_attempts_total{destination="crm",outcome="delivered"}')).toBe(
      received,
    );
    const consumer = await scrape("consumer");
    expect(value(consumer, 'handoff_sync_events_rejected_total{reason="invalid_json"}')).toBe(1);
    expect(value(consumer, 'handoff_sync_events_rejected_total{reason="schema_violation"}')).toBe(1);
    expect(value(consumer, 'handoff_sync_events_consumed_total{result="applied"}')).toBeGreaterThanOrEqual(4);
    expect(consumer).toContain("handoff_sync_enqueue_latency_seconds_bucket");
    expect(value(worker, 'handoff_sync_end_to_end_latency_seconds_count{destination="crm"}')).toBe(received);
    // Gauges the worker refreshes on its housekeeping interval (WORKER_SWEEP_INTERVAL_MS).
    await waitFor(async () => value(await scrape("worker"), "handoff_sync_redis_memory_used_bytes") > 0, {
      message: "redis memory gauge",
    });
    const later = await scrape("worker");
    expect(value(later, "handoff_sync_handoffs_stored")).toBe(3);
    expect(value(later, 'handoff_sync_queue_jobs{destination="crm",state="waiting"}')).toBe(0);
    expect(later).toContain('handoff_sync_destination_parked{destination="crm"');
    expect(value(later, "handoff_sync_redis_maxmemory_policy_info")).toBe(1);
  });

  it("writes no version twice when the group's offsets are rewound, with and without the old jobs", async () => {
    const sharedId = uniqueName("redeliver");
    const id = randomUUID();
    await pipeline.produce([
      event({ id, shared_id: sharedId, state: "handoff_initiated", at: "2026-11-25T13:00:00.000Z" }),
      event({ id, shared_id: sharedId, state: "handoff_completed", at: "2026-11-25T13:01:00.000Z" }),
    ]);
    await waitFor(
      async () => (await pipeline.deliveries()).some((d) => d.key === sharedId && d.version === 2),
      { message: "delivered" },
    );
    const countsBefore = (await pipeline.deliveries()).length;

    const names = destinationQueueNames(pipeline.prefix, "crm");
    const queue = new Queue(names.deliver, { connection: redis, prefix: names.prefix });
    for (const removeOldJobs of [false, true]) {
      if (removeOldJobs) await queue.clean(0, 100_000, "completed");
      else expect(await queue.getCompletedCount()).toBeGreaterThan(0);
      await rewindAndReconsume(pipeline);
    }
    await queue.close();
    // Let any job the rewinds enqueued finish before counting.
    await waitFor(
      async () =>
        (await queue.getActiveCount()) + (await queue.getWaitingCount()) + (await queue.getDelayedCount()) ===
        0,
      { message: "queue idle" },
    ).catch(() => undefined);
    const deliveries = await pipeline.deliveries();
    const seen = new Set<string>();
    for (const d of deliveries) {
      const versionKey = `${d.key}@${d.version}`;
      expect(seen.has(versionKey), `second write of ${versionKey}`).toBe(false);
      seen.add(versionKey);
    }
    expect(deliveries.length).toBe(countsBefore);
  });
});

async function rewindAndReconsume(pipeline: Pipeline): Promise<void> {
  const consumer = pipeline.services.get("consumer");
  expect(await consumer?.stop()).toBe(0);
  const admin = pipeline.kafka.admin();
  await admin.connect();
  await admin.resetOffsets({ groupId: pipeline.groupId, topic: pipeline.topic, earliest: true });
  const ends = await admin.fetchTopicOffsets(pipeline.topic);
  const restarted = await pipeline.start("consumer");
  await waitFor(
    async () => {
      const [committed] = await admin.fetchOffsets({ groupId: pipeline.groupId, topics: [pipeline.topic] });
      return ends.every(
        (end) =>
          end.offset === "0" ||
          committed?.partitions.find((p) => p.partition === end.partition)?.offset === end.offset,
      );
    },
    { timeoutMs: 60_000, message: "consumer caught up after rewind" },
  );
  await admin.disconnect();
  expect(restarted.lines.some((line) => line.includes('"level":"fatal"'))).toBe(false);
}
