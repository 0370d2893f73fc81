import { readFile } from "node:fs/promises";
import {
  createDeliveryQueues,
  createDeliveryWorker,
  listDeadLetters,
  replayDeadLetters,
  type DeliverRequest,
} from "@handoff-sync/queue";
import { BackoffPolicySchema, createStateCatalogue, deliveryJobId } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient, type RedisClient, scanAll } from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import { testRedisTarget, uniqueName, waitFor } from "@handoff-sync/testing";
import { afterAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";

/**
 * Upgrades without loss (docs/upgrades.md): records written in the previous format, frozen under
 * test/fixtures/upgrade/v1, are loaded into a fresh prefix and the current store and worker code
 * must read, deliver, honour and replay them.
 */
const FIXTURES = new URL("../fixtures/upgrade/v1/", import.meta.url);
const readFixture = async <T extends z.ZodType>(name: string, schema: T): Promise<z.infer<T>> =>
  schema.parse(JSON.parse(await readFile(new URL(name, FIXTURES), "utf8")));

const StoreKeySchema = z.discriminatedUnion("type", [
  z.object({ key: z.string(), type: z.literal("string"), value: z.string() }),
  z.object({ key: z.string(), type: z.literal("hash"), value: z.record(z.string(), z.string()) }),
  z.object({ key: z.string(), type: z.literal("set"), value: z.array(z.string()) }),
  z.object({ key: z.string(), type: z.literal("list"), value: z.array(z.string()) }),
  z.object({ key: z.string(), type: z.literal("zset"), value: z.array(z.string()) }),
]);
type StoreKey = z.infer<typeof StoreKeySchema>;
const BullJobSchema = z.object({
  name: z.string(),
  data: z.record(z.string(), z.unknown()),
  opts: z.record(z.string(), z.unknown()),
});

const log = createLogger({ level: "silent", service: "test" });
const catalogue = createStateCatalogue({});

/** Raw Redis commands, as the previous release left the keys; nothing of the current code writes them. */
async function loadStoreKeys(redis: RedisClient, prefix: string, keys: readonly StoreKey[]): Promise<void> {
  for (const entry of keys) {
    const key = `${prefix}:${entry.key}`;
    if (entry.type === "string") await redis.set(key, entry.value);
    else if (entry.type === "hash") await redis.hset(key, entry.value);
    else if (entry.type === "set") await redis.sadd(key, ...entry.value);
    else if (entry.type === "list") await redis.rpush(key, ...entry.value);
    else {
      const pairs = entry.value.flatMap((member, i, all) => (i % 2 === 0 ? [all[i + 1] ?? "0", member] : []));
      await redis.zadd(key, ...pairs);
    }
  }
}

describe("upgrade: the current code over data written in the previous format", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  afterAll(() => connection.quit());

  it("reads the store, delivers old and newer-producer jobs, honours the ledger and replays the dead letter", async () => {
    const prefix = uniqueName("upg");
    const storeKeys = await readFixture("store-keys.json", z.array(StoreKeySchema));
    const earliest = await readFixture(
      "store-keys-earliest-writer.json",
      z.object({ keys: z.array(StoreKeySchema) }),
    );
    const jobs = await readFixture(
      "delivery-jobs.json",
      z.object({ destination: z.string(), policy: BackoffPolicySchema, jobs: z.array(BullJobSchema) }),
    );
    const newer = await readFixture(
      "delivery-job-newer-producer.json",
      z.object({ jobs: z.array(BullJobSchema) }),
    );
    const dead = await readFixture("dead-letters.json", z.object({ entries: z.array(BullJobSchema) }));

    await loadStoreKeys(connection, prefix, [...storeKeys, ...earliest.keys]);
    const store = createHandoffStore({ redis: connection, prefix, retentionMs: 0 });
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: { [jobs.destination]: jobs.policy },
    });
    const queue = queues.get(jobs.destination);
    // Jobs and dead letters go in through BullMQ's API with the options the previous release used.
    for (const job of [...jobs.jobs, ...newer.jobs]) await queue.deliver.add(job.name, job.data, job.opts);
    for (const entry of dead.entries) await queue.dead.add(entry.name, entry.data, entry.opts);

    // The store: snapshots parse (the earliest writer's lifted), aliases and indexes resolve.
    for (const key of ["upg-1", "upg-2", "upg-3", "upg-4", "upg-5"])
      expect((await store.get(key))?.key).toBe(key);
    expect(await store.get("upg-1")).toMatchObject({
      version: 2,
      state: "handoff_completed",
      data: { customer_id: "cust-1", reason: "refund", agent: "dana" },
    });
    expect((await store.get("upg-5"))?.truncated).toMatchObject({
      channel: { value: "chat", event_id: "upg-5-e1" },
      data_positions: { customer_id: { event_id: "upg-5-e1" } },
    });
    expect(await store.findKey({ kind: "id", value: "conv-upg-1" })).toBe("upg-1");
    expect(await store.findKey({ kind: "shared_id", value: "upg-5" })).toBe("upg-5");
    expect(await store.keysOfCustomer("cust-2")).toEqual(["upg-2"]);
    expect(
      await store.keysCreatedBetween(Date.parse("2026-11-20T00:00:00Z"), Date.parse("2026-11-21T00:00:00Z")),
    ).toEqual(["upg-1", "upg-2", "upg-3", "upg-4"]);
    expect(await store.getDelivery("upg-1", jobs.destination)).toMatchObject({
      version: 1,
      record_id: "crm-rec-1",
    });

    // The current writer continues the earliest writer's snapshot.
    const applied = await store.apply(
      {
        schema_version: 1,
        event_id: "upg-5-e5",
        id: "conv-upg-5",
        shared_id: "upg-5",
        state: "handoff_completed",
        occurred_at: "2026-11-20T09:06:00.000Z",
        data: { csat: 5 },
      },
      { catalogue, receivedAt: "2026-11-20T09:06:01.000Z" },
    );
    expect(applied.snapshot).toMatchObject({
      version: 5,
      data: { customer_id: "cust-5", reason: "no agent available", csat: 5 },
    });
    await queues.enqueue(jobs.destination, {
      v: 1,
      key: "upg-5",
      version: 5,
      event_id: "upg-5-e5",
      occurred_at: "2026-11-20T09:06:00.000Z",
      enqueued_at: new Date().toISOString(),
    });

    const requests: DeliverRequest[] = [];
    const worker = createDeliveryWorker({
      queue,
      connection,
      store,
      log,
      concurrency: 1,
      // An upsert: the ledger's record id is reused, a first delivery creates one.
      deliver: (request) => {
        requests.push(request);
        return Promise.resolve({
          recordId: request.previous?.recordId ?? `crm-new-${request.snapshot.key}`,
          status: 200,
        });
      },
    });
    try {
      const delivered = async (key: string, version: number) =>
        waitFor(
          async () =>
            (await store.getDelivery(key, jobs.destination))?.version === version ? true : undefined,
          { timeoutMs: 20_000, message: `${key} delivered at v${version}` },
        );
      await delivered("upg-1", 2);
      await delivered("upg-4", 1);
      await delivered("upg-5", 5);

      // The previous format's job is delivered with the latest snapshot and the ledger's record id.
      expect(requests.find((r) => r.snapshot.key === "upg-1")).toMatchObject({
        snapshot: { version: 2 },
        previous: { version: 1, recordId: "crm-rec-1" },
      });
      expect(await store.getDelivery("upg-1", jobs.destination)).toMatchObject({
        version: 2,
        record_id: "crm-rec-1",
      });
      // The newer producer's extra fields are ignored, not fatal.
      expect(requests.find((r) => r.snapshot.key === "upg-4")?.snapshot.version).toBe(1);
      expect(requests.find((r) => r.snapshot.key === "upg-5")?.snapshot.data).toMatchObject({
        customer_id: "cust-5",
        csat: 5,
      });

      // The ledger is honoured: upg-2 already has v1 in the CRM, so its job sends nothing.
      const skipped = await waitFor(
        async () => {
          const job = await queue.deliver.getJob(deliveryJobId("upg-2", 1));
          return job && (await job.isCompleted()) ? job : undefined;
        },
        { timeoutMs: 20_000, message: "upg-2 job completed" },
      );
      expect(skipped.returnvalue).toMatchObject({ outcome: "already_delivered", deliveredVersion: 1 });
      expect(requests.some((r) => r.snapshot.key === "upg-2")).toBe(false);

      // The dead letter is readable and replayable: replay re-reads the snapshot and delivers it.
      const listed = await listDeadLetters(queue.dead);
      expect(listed.entries.map((e) => e.id)).toEqual(["dl.kupg-3.v1"]);
      expect(listed.entries[0]?.attempts).toHaveLength(3);
      const replayed = await replayDeadLetters(queue, store, { ids: ["dl.kupg-3.v1"] }, { dryRun: false });
      expect(replayed).toMatchObject([{ key: "upg-3", action: "enqueue", sendVersion: 1 }]);
      await delivered("upg-3", 1);
      expect((await listDeadLetters(queue.dead)).total).toBe(0);
      expect(requests.filter((r) => r.snapshot.key === "upg-3")).toHaveLength(1);
    } finally {
      await worker.close();
      await queues.close();
      const leftovers = await scanAll(connection, `${prefix}:*`);
      // One key per DEL: on a Redis Cluster the leftovers live in different slots.
      await Promise.all(leftovers.map((key) => connection.del(key)));
    }
  });
});
