import type { DeliveryJob } from "@handoff-sync/schema";
import { testRedisTarget, uniqueName, waitFor } from "@handoff-sync/testing";
import { Worker } from "bullmq";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDeliveryQueues, type DeliveryQueues } from "./delivery-queues.js";
import { destinationQueueNames } from "./names.js";
import { createRedisClient, type RedisClient } from "@handoff-sync/store";

const policy = { attempts: 3, base_delay_ms: 100, max_delay_ms: 1000 };

const job = (key: string, version: number): DeliveryJob => ({
  v: 1,
  key,
  version,
  event_id: `${key}-e${version}`,
  occurred_at: "2026-11-25T10:00:00.000Z",
  enqueued_at: new Date().toISOString(),
});

type Mode = "add" | "addBulk";
const enqueueIn = (queues: DeliveryQueues, mode: Mode, jobs: DeliveryJob[]): Promise<unknown> =>
  mode === "add"
    ? Promise.all(jobs.map((j) => queues.enqueue("crm", j))).then(() => undefined)
    : queues.enqueueBulk("crm", jobs);

/**
 * The consumer enqueues with `addBulk`; these scenarios run once with `add` and once with
 * `addBulk` and must see the same thing: BullMQ's deduplication (`keepLastIfActive`) and job ids
 * hold for bulk adds as they do for single ones.
 */
async function scenario(
  connection: RedisClient,
  mode: Mode,
): Promise<{ processed: string[]; ids: string[] }> {
  const prefix = uniqueName("t");
  const queues = createDeliveryQueues({ connection, prefix, destinations: { crm: policy } });
  const names = destinationQueueNames(prefix, "crm");
  const processed: string[] = [];
  const ids: string[] = [];
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  try {
    // Waiting: a second version of the same handoff folds into the waiting job.
    await enqueueIn(queues, mode, [job("a", 1), job("b", 1)]);
    await enqueueIn(queues, mode, [job("a", 2)]);
    // The same job id again (a redelivered record) adds nothing.
    await enqueueIn(queues, mode, [job("b", 1)]);
    expect(await queues.get("crm").deliver.getWaitingCount()).toBe(2);
    const worker = new Worker(
      names.deliver,
      async (j) => {
        const data = j.data as DeliveryJob;
        processed.push(`${data.key}.v${data.version}`);
        ids.push(j.id ?? "");
        if (data.key === "a" && data.version === 1) await held;
      },
      { connection, prefix: names.prefix, concurrency: 1 },
    );
    try {
      await waitFor(() => processed.includes("a.v1"), { message: "a.v1 active" });
      // Active: newer versions are kept as the next job, the latest winning.
      await enqueueIn(queues, mode, [job("a", 3)]);
      await enqueueIn(queues, mode, [job("a", 4)]);
      release();
      await waitFor(() => processed.length >= 3, { message: "next job of a" });
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await worker.close();
    }
    return { processed, ids };
  } finally {
    await queues.close();
  }
}

describe("enqueueBulk (BullMQ addBulk) against real Redis", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  afterAll(() => connection.quit());

  it("honours job ids and keepLastIfActive deduplication exactly as add does", async () => {
    const single = await scenario(connection, "add");
    const bulk = await scenario(connection, "addBulk");
    expect(single.processed).toEqual(["a.v1", "b.v1", "a.v4"]);
    expect(bulk).toEqual(single);
  });
});
