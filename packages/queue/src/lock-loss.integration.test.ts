import {
  createStateCatalogue,
  RetryableDeliveryError,
  SupersededDeliveryError,
  type HandoffEvent,
} from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient, type HandoffStore } from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import { uniqueName, waitFor, testRedisTarget } from "@handoff-sync/testing";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDeliveryQueues } from "./delivery-queues.js";
import { createDeliveryWorker } from "./delivery-worker.js";

const log = createLogger({ level: "silent", service: "test" });

describe("a delivery whose queue lock is lost", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  afterAll(() => connection.quit());

  it("is cancelled when the lock cannot be renewed, and may no longer write", async () => {
    const prefix = uniqueName("t");
    const store = createHandoffStore({ redis: connection, prefix, retentionMs: 60_000 });
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: { crm: { attempts: 3, base_delay_ms: 100, max_delay_ms: 200 } },
    });
    const queue = queues.get("crm");
    let started: (() => void) | undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    const seen: { abortReason?: unknown; beforeWrite?: unknown } = {};
    const worker = createDeliveryWorker({
      queue,
      connection,
      store,
      log,
      concurrency: 1,
      lockDurationMs: 1000,
      // Waits as a slow CRM call would, until the worker cancels it.
      deliver: async ({ signal, beforeWrite }) => {
        started?.();
        await new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => resolve(), { once: true });
          setTimeout(resolve, 10_000);
        });
        seen.abortReason = signal.reason;
        seen.beforeWrite = await beforeWrite().then(
          () => "allowed",
          (error: unknown) => error,
        );
        throw signal.reason;
      },
    });
    const event: HandoffEvent = {
      schema_version: 1,
      event_id: "e1",
      id: "conv-1",
      shared_id: "lock-1",
      state: "handoff_initiated",
      occurred_at: "2026-12-01T10:00:00.000Z",
      data: {},
    };
    const applied = await store.apply(event, {
      catalogue: createStateCatalogue({}),
      receivedAt: new Date().toISOString(),
    });
    await queues.enqueue("crm", {
      v: 1,
      key: applied.key,
      version: 1,
      event_id: "e1",
      occurred_at: event.occurred_at,
      enqueued_at: new Date().toISOString(),
    });
    await running;
    const [job] = await queue.deliver.getActive();
    // What the stalled-job check does to a lock that expired: another worker now owns the job.
    await connection.del(queue.deliver.toKey(`${job?.id ?? ""}:lock`));

    await waitFor(() => seen.beforeWrite !== undefined, { timeoutMs: 8_000, message: "delivery cancelled" });
    expect(seen.abortReason).toBe("lock lost");
    expect(seen.beforeWrite).toBeInstanceOf(SupersededDeliveryError);
    expect(seen.beforeWrite).toHaveProperty("reason", "lock_lost");
    expect(await store.getDelivery(applied.key, "crm")).toBeUndefined();
    // The attempt log is not this worker's to write any more.
    expect(await store.getAttempts(applied.key, "crm")).toEqual([]);

    await worker.close(true);
    await queues.close();
  });

  it("refuses a write whose last check is older than a quarter of the lock, as after a stall", async () => {
    const prefix = uniqueName("t");
    const store = createHandoffStore({ redis: connection, prefix, retentionMs: 60_000 });
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: { crm: { attempts: 1, base_delay_ms: 100, max_delay_ms: 200 } },
    });
    const verdicts: unknown[] = [];
    const worker = createDeliveryWorker({
      queue: queues.get("crm"),
      connection,
      store,
      log,
      concurrency: 1,
      lockDurationMs: 2000,
      deliver: async ({ beforeWrite, sendGuard }) => {
        verdicts.push(sendGuard());
        await beforeWrite();
        verdicts.push(sendGuard());
        // One check covers one write.
        verdicts.push(sendGuard());
        await beforeWrite();
        // A stall between the check and the write: the event loop blocked past 500 ms.
        const until = Date.now() + 700;
        while (Date.now() < until);
        verdicts.push(sendGuard());
        return { status: 200 };
      },
    });
    const event: HandoffEvent = {
      schema_version: 1,
      event_id: "e1",
      id: "conv-2",
      shared_id: "stall-1",
      state: "handoff_initiated",
      occurred_at: "2026-12-01T10:00:00.000Z",
      data: {},
    };
    const applied = await store.apply(event, {
      catalogue: createStateCatalogue({}),
      receivedAt: new Date().toISOString(),
    });
    await queues.enqueue("crm", {
      v: 1,
      key: applied.key,
      version: 1,
      event_id: "e1",
      occurred_at: event.occurred_at,
      enqueued_at: new Date().toISOString(),
    });
    await waitFor(() => verdicts.length === 4, { timeoutMs: 8_000, message: "delivery ran" });
    expect(verdicts.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    expect(verdicts[3]).toBeInstanceOf(RetryableDeliveryError);
    expect(String(verdicts[3])).toMatch(/not sent: the check before this write is \d+ ms old/);
    await worker.close(true);
    await queues.close();
  });

  it("refuses a write whose claim answered later than the claim lives, as when the process stopped with the reply unread", async () => {
    const prefix = uniqueName("t");
    const plain = createHandoffStore({ redis: connection, prefix, retentionMs: 60_000 });
    // The claim lives lock/4 + timeout + settle = 500 + 300 + 200 ms from when Redis ran it; its
    // reply is read 1500 ms later. A later delivery may have looked the record up and created it
    // meanwhile, so this write must not leave. Both scripts that claim answer late: the begin's
    // claim is then too old to use, and the fresh claim that replaces it answers late too.
    const late = <T>(reply: T): Promise<T> =>
      new Promise((resolve) => setTimeout(() => resolve(reply), 1500));
    const store: HandoffStore = {
      ...plain,
      beginDelivery: async (...args) => late(await plain.beginDelivery(...args)),
      claimWrite: async (...args) => late(await plain.claimWrite(...args)),
    };
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: { crm: { attempts: 1, base_delay_ms: 100, max_delay_ms: 200 } },
    });
    const seen: { claimLeftMs?: number; verdict?: unknown } = {};
    const worker = createDeliveryWorker({
      queue: queues.get("crm"),
      connection,
      store,
      log,
      concurrency: 1,
      lockDurationMs: 2000,
      requestTimeoutMs: 300,
      writeSettleMs: 200,
      deliver: async ({ snapshot, beforeWrite, sendGuard }) => {
        await beforeWrite();
        seen.claimLeftMs = await connection.pttl(plain.keys.writeClaim(snapshot.key, "crm"));
        seen.verdict = sendGuard() ?? "sent";
        if (seen.verdict instanceof Error) throw seen.verdict;
        return { status: 200 };
      },
    });
    const event: HandoffEvent = {
      schema_version: 1,
      event_id: "e1",
      id: "conv-3",
      shared_id: "late-reply-1",
      state: "handoff_initiated",
      occurred_at: "2026-12-01T10:00:00.000Z",
      data: {},
    };
    const applied = await plain.apply(event, {
      catalogue: createStateCatalogue({}),
      receivedAt: new Date().toISOString(),
    });
    await queues.enqueue("crm", {
      v: 1,
      key: applied.key,
      version: 1,
      event_id: "e1",
      occurred_at: event.occurred_at,
      enqueued_at: new Date().toISOString(),
    });
    await waitFor(() => seen.verdict !== undefined, { timeoutMs: 8_000, message: "delivery ran" });
    // The claim is gone by the time the write would leave.
    expect(seen.claimLeftMs).toBe(-2);
    expect(seen.verdict).toBeInstanceOf(RetryableDeliveryError);
    expect(String(seen.verdict)).toMatch(/not sent: the check before this write is \d+ ms old/);
    expect(await plain.getDelivery(applied.key, "crm")).toBeUndefined();
    await worker.close(true);
    await queues.close();
  });
});
