import { randomUUID } from "node:crypto";
import { destinationQueueNames } from "@handoff-sync/queue";
import { deliveryJobId } from "@handoff-sync/schema";
import {
  startFakeServer,
  startPipeline,
  testRedisTarget,
  uniqueName,
  waitFor,
  WriteLog,
} from "@handoff-sync/testing";
import { Queue } from "bullmq";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createRedisClient } from "@handoff-sync/store";

describe("graceful shutdown of real service processes", () => {
  const redis = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  afterAll(() => redis.quit());

  it("worker: SIGTERM hands an unfinished delivery back unharmed and exits 0; consumer: SIGTERM commits and exits 0", async () => {
    const writes = new WriteLog();
    const fake = await startFakeServer((request) => {
      const body = request.body as { data: { key: string; version: number } };
      writes.record({
        operation: "create",
        object: "webhook",
        recordId: String(request.headers["webhook-id"]),
        externalId: body.data.key,
        version: body.data.version,
        fields: {},
      });
      return { status: 204 };
    });
    fake.faults.next({ kind: "hold" });
    const pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      receiverUrl: `${fake.url}/hooks`,
      env: { WORKER_DRAIN_TIMEOUT_MS: "1500" },
    });
    try {
      const key = uniqueName("drain");
      await pipeline.produce([
        {
          event_id: randomUUID(),
          id: randomUUID(),
          shared_id: key,
          state: "handoff_initiated",
          occurred_at: new Date().toISOString(),
          data: {},
        },
      ]);
      const held = await fake.faults.waitForHeld();

      const worker = pipeline.services.get("worker");
      const stopping = Date.now();
      expect(await worker?.stop("SIGTERM")).toBe(0);
      expect(Date.now() - stopping).toBeLessThan(8000);
      expect(worker?.lines.some((line) => line.includes("returned to the queue"))).toBe(true);

      const names = destinationQueueNames(pipeline.prefix, "crm");
      const queue = new Queue(names.deliver, { connection: redis, prefix: names.prefix });
      const job = await queue.getJob(deliveryJobId(key, 1));
      expect(["delayed", "waiting"]).toContain(await job?.getState());
      expect(job?.attemptsMade).toBe(0);

      // The CRM applies the request the worker gave up on; the next worker sends the same message id.
      held.release();
      await pipeline.start("worker");
      await waitFor(() => writes.all().length === 2, {
        timeoutMs: 20_000,
        message: "redelivered by the next worker",
      });
      const ids = new Set(writes.all().map((w) => w.recordId));
      expect(ids.size).toBe(1);
      await waitFor(async () => (await queue.getJob(deliveryJobId(key, 1)))?.isCompleted(), {
        message: "job completed",
      });
      await queue.close();

      const consumer = pipeline.services.get("consumer");
      expect(await consumer?.stop("SIGTERM")).toBe(0);
      const admin = pipeline.kafka.admin();
      await admin.connect();
      const ends = await admin.fetchTopicOffsets(pipeline.topic);
      const [committed] = await admin.fetchOffsets({ groupId: pipeline.groupId, topics: [pipeline.topic] });
      await admin.disconnect();
      for (const end of ends) {
        if (end.offset === "0") continue;
        expect(committed?.partitions.find((p) => p.partition === end.partition)?.offset).toBe(end.offset);
      }
    } finally {
      await pipeline.stop();
      await fake.close();
    }
  });
});
