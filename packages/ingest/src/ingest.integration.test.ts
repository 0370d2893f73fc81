import { createStateCatalogue, type DeliveryJob } from "@handoff-sync/schema";
import { createHandoffStore } from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import { uniqueName } from "@handoff-sync/testing";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createIngest, type IngestRecord } from "./ingest.js";

const log = createLogger({ level: "silent", service: "test" });

function record(event: Record<string, unknown>): IngestRecord {
  return { value: Buffer.from(JSON.stringify(event)), headers: {}, timestamp: Date.now() };
}

describe("ingest against real Redis", () => {
  const redis = new Redis(inject("redisUrl"));
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
          return Promise.reject(new Error("redis went away between apply and enqueue"));
        }
        enqueued.push({ destination, job });
        return Promise.resolve();
      },
      reject: () => Promise.reject(new Error("must not reject a valid event")),
      log,
    });
    const input = record({ event_id: "e1", id: "conv-1", shared_id: "acme-9", state: "handoff_initiated", occurred_at: "2026-11-25T10:00:00Z" });

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
    expect(rejected.map((r) => r.reason)).toEqual(["invalid_json", "unknown_state", "oversize", "schema_violation", "empty"]);
    expect(rejected[1]?.error).toContain("handoff_exploded");
    expect(rejected[3]?.error).toContain("occurred_at");
    expect(await store.findKey({ kind: "id", value: "conv-1" })).toBeUndefined();
  });
});
