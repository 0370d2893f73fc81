import { uniqueName, waitFor } from "@handoff-sync/testing";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";

describe("BullMQ against the provisioned Redis", () => {
  const connection = new Redis(inject("redisUrl"), { maxRetriesPerRequest: null });
  afterAll(() => connection.quit());

  it("adds a job and a worker processes it", async () => {
    const prefix = uniqueName("t");
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
