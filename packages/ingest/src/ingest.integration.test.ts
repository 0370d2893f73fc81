import { createStateCatalogue, DEFAULT_EVENT_LIMITS, type DeliveryJob } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient } from "@handoff-sync/store";
import { createIngestMetrics, createLogger, Registry } from "@handoff-sync/telemetry";
import { startRedisServer, testRedisTarget, uniqueName } from "@handoff-sync/testing";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createIngest, type IngestRecord } from "./ingest.js";

const log = createLogger({ level: "silent", service: "test" });

function record(event: Record<string, unknown>): IngestRecord {
  return { value: Buffer.from(JSON.stringify(event)), headers: {}, timestamp: Date.now() };
}

describe("ingest against real Redis", () => {
  const redis = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")));
  afterAll(() => redis.quit());

  it("still enqueues a redelivered event whose first enqueue failed after it was applied", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
    const enqueued: { destination: string; job: DeliveryJob }[] = [];
    let failNext = true;
    const ingest = createIngest({
      store,
      catalogue: createStateCatalogue({}),
      maxBytes: 4096,
      route: () => ["crm", "webhook"],
      enqueue: (destination, job) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(
            Object.assign(new Error("redis went away between apply and enqueue"), { code: "ECONNRESET" }),
          );
        }
        enqueued.push({ destination, job });
        return Promise.resolve();
      },
      reject: () => Promise.reject(new Error("must not reject a valid event")),
      log,
    });
    const input = record({
      event_id: "e1",
      id: "conv-1",
      shared_id: "acme-9",
      state: "handoff_initiated",
      occurred_at: "2026-11-25T10:00:00Z",
    });

    await expect(ingest(input)).rejects.toThrow("redis went away");
    expect(await store.get("acme-9")).toMatchObject({ version: 1, state: "handoff_initiated" });

    // Kafka hands the same record over again because its offset was never resolved.
    const again = await ingest(input);
    expect(again).toMatchObject({ result: "duplicate", key: "acme-9", version: 1 });
    // Enqueues run side by side, so the one that succeeded the first time runs again: job ids
    // make that a no-op in BullMQ. What matters is that the failed one now happened.
    expect([...new Set(enqueued.map((e) => e.destination))].sort()).toEqual(["crm", "webhook"]);
    expect(enqueued.every((e) => e.job.key === "acme-9" && e.job.version === 1)).toBe(true);
    expect((await store.get("acme-9"))?.history).toHaveLength(1);
  });

  it("rejects what it cannot read, naming the reason, and keeps nothing of it", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
    const rejected: { reason: string; error: string }[] = [];
    const ingest = createIngest({
      store,
      catalogue: createStateCatalogue({ customer_refund: "initiated" }),
      maxBytes: 200,
      route: () => ["crm"],
      enqueue: () => Promise.reject(new Error("must not enqueue")),
      reject: (_record, reason, error) => Promise.resolve(void rejected.push({ reason, error })),
      log,
    });
    const base = { event_id: "e1", id: "conv-1", occurred_at: "2026-11-25T10:00:00Z" };
    await ingest({ value: Buffer.from("{oops"), headers: {}, timestamp: 0 });
    await ingest(record({ ...base, state: "handoff_exploded" }));
    await ingest(record({ ...base, state: "handoff_initiated", data: { note: "x".repeat(300) } }));
    await ingest(record({ ...base, state: "handoff_initiated", occurred_at: "yesterday" }));
    await ingest({ value: null, headers: {}, timestamp: 0 });
    expect(rejected.map((r) => r.reason)).toEqual([
      "invalid_json",
      "unknown_state",
      "oversize",
      "schema_violation",
      "empty",
    ]);
    expect(rejected[1]?.error).toContain("handoff_exploded");
    expect(rejected[3]?.error).toContain("occurred_at");
    expect(await store.findKey({ kind: "id", value: "conv-1" })).toBeUndefined();
  });

  const base = {
    event_id: "e1",
    id: "conv-1",
    state: "handoff_initiated",
    occurred_at: "2026-11-25T10:00:00Z",
  };

  it("rejects a record whose merged snapshot would pass max_snapshot_bytes, keeping the handoff as it was", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
    const rejected: { reason: string; error: string }[] = [];
    const enqueued: DeliveryJob[] = [];
    const ingest = createIngest({
      store,
      catalogue: createStateCatalogue({}),
      maxBytes: 1_048_576,
      limits: { ...DEFAULT_EVENT_LIMITS, max_snapshot_bytes: 11_000 },
      route: () => ["crm"],
      enqueue: (_destination, job) => Promise.resolve(void enqueued.push(job)),
      reject: (_record, reason, error) => Promise.resolve(void rejected.push({ reason, error })),
      log,
    });
    expect(await ingest(record({ ...base, data: { note: "a".repeat(3_000) } }))).toMatchObject({
      result: "applied",
      version: 1,
    });
    // Each event adds to the history, so the third would grow the snapshot past 11,000 bytes.
    expect(
      await ingest(
        record({
          ...base,
          event_id: "e2",
          state: "handoff_completed",
          occurred_at: "2026-11-25T10:01:00Z",
          data: { note: "b".repeat(3_000) },
        }),
      ),
    ).toMatchObject({ result: "applied" });
    expect(
      await ingest(
        record({
          ...base,
          event_id: "e3",
          state: "handoff_completed",
          occurred_at: "2026-11-25T10:02:00Z",
          data: { note: "c".repeat(3_000) },
        }),
      ),
    ).toEqual({ result: "rejected", reason: "snapshot_too_large" });
    expect(rejected[0]?.error).toMatch(
      /^the handoff's snapshot would be \d+ bytes with this event; the limit is 11000 \(source.limits.max_snapshot_bytes\)$/,
    );
    expect(await store.get("conv-1")).toMatchObject({ version: 2, data: { note: "b".repeat(3_000) } });
    expect(enqueued.map((job) => job.version)).toEqual([1, 2]);
  });

  it("rejects a record that fails the same way twice while Redis answers, as apply_failed with the error", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
    const rejected: { reason: string; error: string }[] = [];
    let probes = 0;
    let routed = 0;
    const ingest = createIngest({
      store,
      catalogue: createStateCatalogue({}),
      maxBytes: 4096,
      route: () => ["crm"],
      enqueue: (_destination, job) => {
        routed++;
        // A deterministic bug for one record, say a job builder that cannot handle its key.
        if (job.key === "conv-bad") throw new TypeError("cannot build a job for conv-bad");
        return Promise.resolve();
      },
      reject: (_record, reason, error) => Promise.resolve(void rejected.push({ reason, error })),
      probe: async () => {
        probes++;
        await redis.ping();
      },
      log,
    });
    expect(await ingest(record({ ...base, id: "conv-bad" }))).toEqual({
      result: "rejected",
      reason: "apply_failed",
    });
    expect(rejected).toEqual([
      { reason: "apply_failed", error: "TypeError: cannot build a job for conv-bad" },
    ]);
    expect(probes).toBe(1);
    expect(routed).toBe(2);
    // The partition moves on: the next record goes through.
    expect(await ingest(record({ ...base, id: "conv-good", event_id: "e2" }))).toMatchObject({
      result: "applied",
    });
  });

  it("throws, never rejects, when the failure is Redis being away", async () => {
    const server = await startRedisServer();
    const client = new Redis(server.url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: () => 200,
    });
    client.on("error", () => undefined);
    await new Promise((resolve) => client.once("ready", resolve));
    try {
      const store = createHandoffStore({ redis: client, prefix: uniqueName("t"), retentionMs: 60_000 });
      const rejected: string[] = [];
      const ingest = createIngest({
        store,
        catalogue: createStateCatalogue({}),
        maxBytes: 4096,
        route: () => ["crm"],
        enqueue: () => Promise.resolve(),
        reject: (_record, reason) => Promise.resolve(void rejected.push(reason)),
        probe: async () => void (await client.ping()),
        log,
      });
      expect(await ingest(record(base))).toMatchObject({ result: "applied" });
      await server.stop();
      await expect(
        ingest(record({ ...base, event_id: "e2", occurred_at: "2026-11-25T10:01:00Z" })),
      ).rejects.toThrow();
      expect(rejected).toEqual([]);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
  it("logs and counts an event whose id is already aliased to another handoff", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
    const lines: Record<string, unknown>[] = [];
    const registry = new Registry();
    const metrics = createIngestMetrics(registry);
    const ingest = createIngest({
      store,
      catalogue: createStateCatalogue({}),
      maxBytes: 4096,
      route: () => [],
      enqueue: () => Promise.resolve(),
      reject: () => Promise.reject(new Error("must not reject a valid event")),
      log: createLogger({
        level: "warn",
        service: "test",
        destination: {
          write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
        },
      }),
      metrics,
    });
    await ingest(
      record({
        event_id: "e1",
        id: "conv-1",
        state: "handoff_initiated",
        occurred_at: "2026-11-25T10:00:00Z",
      }),
    );
    await ingest(
      record({
        event_id: "e2",
        id: "conv-2",
        shared_id: "acme-1",
        state: "handoff_initiated",
        occurred_at: "2026-11-25T10:00:01Z",
      }),
    );
    // conv-1 already is a handoff of its own; the shared_id wins and the alias stays where it is.
    const joined = await ingest(
      record({
        event_id: "e3",
        id: "conv-1",
        shared_id: "acme-1",
        state: "handoff_completed",
        occurred_at: "2026-11-25T10:00:02Z",
      }),
    );
    expect(joined).toMatchObject({ result: "applied", key: "acme-1" });
    expect(lines.filter((l) => l["msg"] === "alias conflict")).toEqual([
      expect.objectContaining({ handoffKey: "acme-1", aliasKind: "id", aliasedTo: "conv-1", eventId: "e3" }),
    ]);
    expect(await registry.getSingleMetricAsString("handoff_sync_alias_conflicts_total")).toContain(
      'handoff_sync_alias_conflicts_total{kind="id"} 1',
    );
  });

  describe("by batch", () => {
    const keyed = (key: string, event: Record<string, unknown>): IngestRecord => ({
      ...record(event),
      key: Buffer.from(key),
    });

    it("applies a batch's events of one handoff in order and merged, and enqueues the newest job once per destination", async () => {
      const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
      const bulks: { destination: string; jobs: string[] }[] = [];
      const rejected: string[] = [];
      const ingest = createIngest({
        store,
        catalogue: createStateCatalogue({}),
        maxBytes: 4096,
        route: () => ["crm", "webhook"],
        enqueue: () => Promise.reject(new Error("a batch enqueues in bulk")),
        enqueueBulk: (destination, jobs) =>
          Promise.resolve(void bulks.push({ destination, jobs: jobs.map((j) => `${j.key}.v${j.version}`) })),
        reject: (_record, reason) => Promise.resolve(void rejected.push(reason)),
        log,
      });
      const results = await ingest.ingestBatch([
        keyed("acme-1", { ...base, shared_id: "acme-1", data: { a: 1, b: 1 } }),
        keyed("acme-2", { ...base, id: "conv-2", shared_id: "acme-2" }),
        keyed("acme-1", {
          ...base,
          event_id: "e2",
          shared_id: "acme-1",
          state: "handoff_completed",
          occurred_at: "2026-11-25T10:01:00Z",
          data: { b: 2 },
        }),
        { value: Buffer.from("{oops"), headers: {}, timestamp: 0, key: Buffer.from("x") },
        // The same event again: a duplicate, still routed (its job folds into the newest).
        keyed("acme-1", { ...base, shared_id: "acme-1", data: { a: 1, b: 1 } }),
      ]);
      expect(results.map((r) => r.result)).toEqual([
        "applied",
        "applied",
        "applied",
        "rejected",
        "duplicate",
      ]);
      expect(rejected).toEqual(["invalid_json"]);
      expect(await store.get("acme-1")).toMatchObject({
        version: 2,
        state: "handoff_completed",
        data: { a: 1, b: 2 },
      });
      expect(bulks.sort((x, y) => x.destination.localeCompare(y.destination))).toEqual([
        { destination: "crm", jobs: ["acme-1.v2", "acme-2.v1"] },
        { destination: "webhook", jobs: ["acme-1.v2", "acme-2.v1"] },
      ]);
    });

    it("after a crash between apply and the bulk enqueue, the batch consumed again enqueues everything", async () => {
      const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
      const enqueued: string[] = [];
      let failNext = true;
      let waits = 0;
      const ingest = createIngest({
        store,
        catalogue: createStateCatalogue({}),
        maxBytes: 4096,
        route: () => ["crm"],
        enqueue: () => Promise.reject(new Error("a batch enqueues in bulk")),
        enqueueBulk: (_destination, jobs) => {
          if (failNext) {
            failNext = false;
            return Promise.reject(
              Object.assign(new Error("redis went away between apply and enqueue"), { code: "ECONNRESET" }),
            );
          }
          enqueued.push(...jobs.map((j) => `${j.key}.v${j.version}`));
          return Promise.resolve();
        },
        afterWrite: () => Promise.resolve(void waits++),
        reject: () => Promise.reject(new Error("must not reject a valid event")),
        log,
      });
      const batch = [
        keyed("acme-1", { ...base, shared_id: "acme-1" }),
        keyed("acme-2", { ...base, id: "conv-2", shared_id: "acme-2" }),
      ];
      await expect(ingest.ingestBatch(batch)).rejects.toThrow("redis went away");
      expect(await store.get("acme-1")).toMatchObject({ version: 1 });
      expect(waits).toBe(0);
      // Kafka hands the batch over again: applies are duplicates, the jobs go out now.
      const again = await ingest.ingestBatch(batch);
      expect(again.map((r) => r.result)).toEqual(["duplicate", "duplicate"]);
      expect(enqueued.sort()).toEqual(["acme-1.v1", "acme-2.v1"]);
      expect(waits).toBe(1);
    });

    it("when a bulk enqueue fails for no evident reason, takes the records one by one and rejects only the one at fault", async () => {
      const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
      const rejected: { reason: string; error: string }[] = [];
      const enqueued: string[] = [];
      const ingest = createIngest({
        store,
        catalogue: createStateCatalogue({}),
        maxBytes: 4096,
        route: () => ["crm"],
        enqueue: (_destination, job) => {
          if (job.key === "conv-bad") throw new TypeError("cannot build a job for conv-bad");
          enqueued.push(job.key);
          return Promise.resolve();
        },
        enqueueBulk: (_destination, jobs) => {
          if (jobs.some((j) => j.key === "conv-bad")) throw new TypeError("cannot build a job for conv-bad");
          return Promise.reject(new Error("not reached"));
        },
        reject: (_record, reason, error) => Promise.resolve(void rejected.push({ reason, error })),
        probe: async () => void (await redis.ping()),
        log,
      });
      const results = await ingest.ingestBatch([
        keyed("conv-good", { ...base, id: "conv-good" }),
        keyed("conv-bad", { ...base, id: "conv-bad", event_id: "e2" }),
      ]);
      expect(results).toEqual([
        { result: "duplicate", key: "conv-good", version: 1, destinations: ["crm"] },
        { result: "rejected", reason: "apply_failed" },
      ]);
      expect(enqueued).toEqual(["conv-good"]);
      expect(rejected).toEqual([
        { reason: "apply_failed", error: "TypeError: cannot build a job for conv-bad" },
      ]);
    });
  });
});
