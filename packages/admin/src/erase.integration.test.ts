import { createDeliveryQueues } from "@handoff-sync/queue";
import { createStateCatalogue, type HandoffEvent } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient } from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import { uniqueName, waitFor, testRedisTarget } from "@handoff-sync/testing";
import { Worker } from "bullmq";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createAdmin } from "./admin.js";
import { createAuditLog } from "./audit.js";

const log = createLogger({ level: "silent", service: "test" });

describe("erasure while a delivery runs", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  afterAll(() => connection.quit());

  it("keeps the running job's merge key, so a new event cannot start a second delivery beside it", async () => {
    const prefix = uniqueName("t");
    const store = createHandoffStore({ redis: connection, prefix, retentionMs: 60_000 });
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: { crm: { attempts: 3, base_delay_ms: 100, max_delay_ms: 400 } },
    });
    const queue = queues.get("crm");
    const audit = createAuditLog({ redis: connection, key: store.keys.audit(), log });
    const admin = createAdmin({
      store,
      queues,
      audit,
      log,
      source: { topic: "unused", rejectedTopic: "unused.dlq", groupId: "unused" },
    });
    const catalogue = createStateCatalogue({});
    const send = async (eventId: string, at: string): Promise<void> => {
      const event: HandoffEvent = {
        schema_version: 1,
        event_id: eventId,
        id: "conv-e1",
        shared_id: "erase-1",
        state: "handoff_initiated",
        occurred_at: at,
        data: {},
      };
      const applied = await store.apply(event, { catalogue, receivedAt: new Date().toISOString() });
      await queues.enqueue("crm", {
        v: 1,
        key: applied.key,
        version: applied.snapshot.version,
        event_id: eventId,
        occurred_at: at,
        enqueued_at: new Date().toISOString(),
      });
    };
    await send("e1", "2026-12-01T10:00:00Z");
    let release = (): void => undefined;
    const running = new Promise<void>((resolve) => (release = resolve));
    const worker = new Worker(queue.deliver.name, () => running, {
      connection,
      prefix: queue.deliver.opts.prefix ?? "",
    });
    await waitFor(async () => (await queue.deliver.getActiveCount()) === 1, { message: "delivery running" });

    const erased = await admin.erase("root", { kind: "shared_id", value: "erase-1" }, false);
    expect(erased.jobs_active).toBe(1);
    // The handoff comes back while the first delivery still runs: its jobs merge into the running one.
    await send("e2", "2026-12-01T10:05:00Z");
    await send("e3", "2026-12-01T10:06:00Z");
    expect(await queue.deliver.getWaitingCount()).toBe(0);
    expect(await queue.deliver.getActiveCount()).toBe(1);

    release();
    await worker.close();
    await queues.close();
  });
});
