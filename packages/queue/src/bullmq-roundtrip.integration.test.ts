import { createRedisClient } from "@handoff-sync/store";
import { uniqueName, waitFor, testRedisTarget } from "@handoff-sync/testing";
import { Queue, Worker } from "bullmq";
import { afterAll, describe, expect, inject, it } from "vitest";

describe("BullMQ against the provisioned Redis", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  afterAll(() => connection.quit());

  it("adds a job and a worker processes it", async () => {
    // On a cluster a queue's keys must share a hash tag, as every destination queue's do (names.ts).
    const prefix = `${uniqueName("t")}:{roundtrip}`;
    const queue = new Queue("roundtrip", { connection, prefix });
    const processed: unknown[] = [];
    const worker = new Worker("roundtrip", (job) => Promise.resolve(void processed.push(job.data)), {
      connection,
      prefix,
    });
    await queue.add("job", { n: 1 }, { jobId: "job-1" });
    await waitFor(() => processed.length === 1, { message: "job processed" });
    expect(processed).toEqual([{ n: 1 }]);
    await worker.close();
    await queue.close();
  });
});
