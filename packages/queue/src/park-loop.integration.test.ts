import { createStateCatalogue, DestinationError, type HandoffEvent } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient } from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import { uniqueName, waitFor, testRedisTarget } from "@handoff-sync/testing";
import { afterAll, describe, expect, inject, it } from "vitest";
import { listDeadLetters } from "./dead-letters.js";
import { createDeliveryQueues } from "./delivery-queues.js";
import { createDeliveryWorker } from "./delivery-worker.js";
import { resumeDestination } from "./park.js";

const log = createLogger({ level: "silent", service: "test" });

describe("a delivery that parks its destination on every resume", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  afterAll(() => connection.quit());

  it("is dead-lettered after maxParksPerDelivery parks, and the destination keeps flowing", async () => {
    const prefix = uniqueName("t");
    const store = createHandoffStore({ redis: connection, prefix, retentionMs: 60_000 });
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: { crm: { attempts: 8, base_delay_ms: 50, max_delay_ms: 100 } },
    });
    const queue = queues.get("crm");
    const catalogue = createStateCatalogue({});
    const delivered: string[] = [];
    const calls = new Map<string, number>();
    const worker = createDeliveryWorker({
      queue,
      connection,
      store,
      log,
      concurrency: 1,
      maxParksPerDelivery: 2,
      // What a CRM that routes this one record's URL nowhere looked like: an error that reads as destination-wide.
      deliver: async ({ snapshot, beforeWrite }) => {
        await beforeWrite();
        calls.set(snapshot.key, (calls.get(snapshot.key) ?? 0) + 1);
        if (snapshot.key === "bad")
          throw new DestinationError("the CRM does not know this object (404)", {
            status: 404,
            adminHint: "check the object",
          });
        delivered.push(snapshot.key);
        return { recordId: `r-${snapshot.key}` };
      },
    });
    for (const key of ["bad", "good"]) {
      const event: HandoffEvent = {
        schema_version: 1,
        event_id: `e-${key}`,
        id: `conv-${key}`,
        shared_id: key,
        state: "handoff_initiated",
        occurred_at: "2026-12-01T10:00:00.000Z",
        data: {},
      };
      const applied = await store.apply(event, { catalogue, receivedAt: new Date().toISOString() });
      await queues.enqueue("crm", {
        v: 1,
        key: applied.key,
        version: 1,
        event_id: event.event_id,
        occurred_at: event.occurred_at,
        enqueued_at: new Date().toISOString(),
      });
    }

    // An operator resumes each time, believing the cause fixed.
    for (let park = 1; park <= 2; park++) {
      await waitFor(
        async () => (await queue.state.getPark()) !== undefined && (calls.get("bad") ?? 0) === park,
        { timeoutMs: 10_000, message: `park ${park}` },
      );
      await resumeDestination(queue, queue.state, log, "operator");
    }
    const dead = await waitFor(async () => (await listDeadLetters(queue.dead)).entries[0], {
      timeoutMs: 10_000,
      message: "dead letter",
    });
    expect(dead).toMatchObject({
      key: "bad",
      reason: "permanent",
      error: expect.stringContaining("parked the destination 2 times") as unknown,
    });
    expect(dead.attempts.filter((a) => a.outcome === "destination")).toHaveLength(3);
    await waitFor(() => delivered.includes("good"), {
      timeoutMs: 10_000,
      message: "the other handoff delivered",
    });
    expect(await queue.state.getPark()).toBeUndefined();
    expect(calls.get("bad")).toBe(3);

    await worker.close();
    await queues.close();
  });
});
