import { createStateCatalogue, RetryableDeliveryError, type HandoffEvent } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient, type HandoffStore } from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import { testRedisTarget, uniqueName, waitFor } from "@handoff-sync/testing";
import type { Worker } from "bullmq";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { listDeadLetters } from "./dead-letters.js";
import { createDeliveryQueues, type DeliveryQueues } from "./delivery-queues.js";
import { createDeliveryWorker, type AttemptOutcome, type DeliverFn } from "./delivery-worker.js";

const log = createLogger({ level: "silent", service: "test" });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// lock/4 = 500 ms is how old a check may be when its write leaves; a claim lives
// lock/4 + timeout + settle = 500 + 500 + 5000 ms, long enough to tell a claim left behind from one
// that was ended.
const LOCK_MS = 2000;
const CHECK_MAX_AGE_MS = LOCK_MS / 4;
const CLAIM_MS = CHECK_MAX_AGE_MS + 500 + 5000;

describe("the write claim taken with the begin of a delivery (decision 0017)", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  afterAll(() => connection.quit());

  interface Rig {
    readonly plain: HandoffStore;
    readonly queues: DeliveryQueues;
    readonly worker: Worker;
    /** Whether each begin of the rig's deliveries took the write claim, in order. */
    readonly begins: boolean[];
    /** Fresh claims asked for by `beforeWrite`, in order. */
    readonly claims: string[];
    readonly outcomes: AttemptOutcome[];
    send(name: string, occurredAt?: string): Promise<string>;
    claimLeftMs(key: string): Promise<number>;
  }

  function rig(
    deliver: DeliverFn,
    options: {
      readonly deadlineMs?: number;
      readonly attempts?: number;
      readonly enrich?: Parameters<typeof createDeliveryWorker>[0]["enrich"];
      readonly claimWithBegin?: boolean;
    } = {},
  ): Rig {
    const prefix = uniqueName("claim");
    const plain = createHandoffStore({ redis: connection, prefix, retentionMs: 60_000 });
    const begins: boolean[] = [];
    const claims: string[] = [];
    const store: HandoffStore = {
      ...plain,
      beginDelivery: async (...args) => {
        const begun = await plain.beginDelivery(...args);
        begins.push(begun.writeClaimed);
        return begun;
      },
      claimWrite: async (...args) => {
        const claim = await plain.claimWrite(...args);
        claims.push(claim.kind);
        return claim;
      },
    };
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: {
        crm: {
          attempts: options.attempts ?? 3,
          base_delay_ms: 100,
          max_delay_ms: 200,
          ...(options.deadlineMs === undefined ? {} : { deadline_ms: options.deadlineMs }),
        },
      },
    });
    const outcomes: AttemptOutcome[] = [];
    const worker = createDeliveryWorker({
      queue: queues.get("crm"),
      connection,
      store,
      log,
      concurrency: 1,
      random: () => 0.5,
      lockDurationMs: LOCK_MS,
      requestTimeoutMs: 500,
      writeSettleMs: 5000,
      onAttempt: (outcome) => outcomes.push(outcome),
      deliver,
      ...(options.enrich === undefined ? {} : { enrich: options.enrich }),
      ...(options.claimWithBegin === undefined ? {} : { claimWithBegin: options.claimWithBegin }),
    });
    cleanups.push(
      () => queues.close(),
      () => worker.close(true),
    );
    return {
      plain,
      queues,
      worker,
      begins,
      claims,
      outcomes,
      async send(name, occurredAt = new Date().toISOString()) {
        const event: HandoffEvent = {
          schema_version: 1,
          event_id: `e-${name}`,
          id: `conv-${name}`,
          shared_id: name,
          state: "handoff_initiated",
          occurred_at: occurredAt,
          data: {},
        };
        const applied = await plain.apply(event, {
          catalogue: createStateCatalogue({}),
          receivedAt: new Date().toISOString(),
        });
        await queues.enqueue("crm", {
          v: 1,
          key: applied.key,
          version: applied.snapshot.version,
          event_id: event.event_id,
          occurred_at: occurredAt,
          enqueued_at: new Date().toISOString(),
        });
        return applied.key;
      },
      claimLeftMs: (key) => connection.pttl(plain.keys.writeClaim(key, "crm")),
    };
  }

  it("serves the first write without a claim of its own; a second write in the attempt claims afresh", async () => {
    const verdicts: unknown[] = [];
    const claimLeft: number[] = [];
    const crm = rig(async ({ snapshot, beforeWrite, sendGuard }) => {
      await beforeWrite();
      claimLeft.push(await crm.claimLeftMs(snapshot.key));
      verdicts.push(sendGuard() ?? "sent");
      // A second write, as HubSpot's association after its upsert.
      await beforeWrite();
      verdicts.push(sendGuard() ?? "sent");
      return { status: 200 };
    });
    const key = await crm.send(uniqueName("h"));
    await waitFor(() => crm.plain.getDelivery(key, "crm"), { timeoutMs: 10_000, message: "delivered" });
    expect(crm.begins).toEqual([true]);
    // The first write held the begin's claim; only the second asked for one.
    expect(claimLeft[0]).toBeGreaterThan(CLAIM_MS - 2000);
    expect(crm.claims).toEqual(["claimed"]);
    expect(verdicts).toEqual(["sent", "sent"]);
    // The ledger script ended it.
    expect(await crm.claimLeftMs(key)).toBe(-2);
  });

  it("claims afresh for a first write that comes later than the send guard's age after the begin", async () => {
    const seen: { verdict?: unknown; claimLeftMs?: number } = {};
    const crm = rig(
      async ({ snapshot, beforeWrite, sendGuard }) => {
        await beforeWrite();
        seen.claimLeftMs = await crm.claimLeftMs(snapshot.key);
        seen.verdict = sendGuard() ?? "sent";
        if (seen.verdict instanceof Error) throw seen.verdict;
        return { status: 200 };
      },
      {
        // A slow enrich hook: the begin's claim is older than a write may be when it leaves.
        enrich: async (snapshot) => {
          await sleep(CHECK_MAX_AGE_MS + 300);
          return snapshot;
        },
      },
    );
    const key = await crm.send(uniqueName("h"));
    await waitFor(() => crm.plain.getDelivery(key, "crm"), { timeoutMs: 10_000, message: "delivered" });
    expect(crm.begins).toEqual([true]);
    expect(crm.claims).toEqual(["claimed"]);
    // A fresh check: the write leaves, under a claim that starts its whole life again.
    expect(seen.verdict).toBe("sent");
    expect(seen.claimLeftMs).toBeGreaterThan(CLAIM_MS - 200);
    expect(crm.outcomes).toEqual(["delivered"]);
  });

  it("leaves the claim to the first write when the adapter reads before writing (claimWithBegin off)", async () => {
    const verdicts: unknown[] = [];
    const crm = rig(
      async ({ beforeWrite, sendGuard }) => {
        await beforeWrite();
        verdicts.push(sendGuard() ?? "sent");
        return { status: 200 };
      },
      { claimWithBegin: false },
    );
    const key = await crm.send(uniqueName("h"));
    await waitFor(() => crm.plain.getDelivery(key, "crm"), { timeoutMs: 10_000, message: "delivered" });
    expect(crm.begins).toEqual([false]);
    expect(crm.claims).toEqual(["claimed"]);
    expect(verdicts).toEqual(["sent"]);
  });

  it("ends the claim when the adapter fails before sending anything: the retry does not wait for it", async () => {
    const calls: number[] = [];
    const crm = rig(async ({ beforeWrite }) => {
      calls.push(Date.now());
      // A token request or a connect that failed: no write left.
      if (calls.length === 1) throw new RetryableDeliveryError("connect ECONNREFUSED 127.0.0.1:1");
      await beforeWrite();
      return { status: 200 };
    });
    const key = await crm.send(uniqueName("h"));
    await waitFor(() => crm.plain.getDelivery(key, "crm"), { timeoutMs: 10_000, message: "delivered" });
    expect(crm.begins).toEqual([true, true]);
    expect(crm.outcomes).toEqual(["retry", "delivered"]);
    expect(calls).toHaveLength(2);
    // The backoff's 100-200 ms, not the claim's life.
    expect((calls[1] ?? 0) - (calls[0] ?? 0)).toBeLessThan(CLAIM_MS / 2);
  });

  it("ends the claim of a delivery past its deadline", async () => {
    let calls = 0;
    const crm = rig(
      () => {
        calls++;
        return Promise.resolve({ status: 200 });
      },
      { deadlineMs: 60_000 },
    );
    const key = await crm.send(uniqueName("h"), new Date(Date.now() - 120_000).toISOString());
    const entry = await waitFor(async () => (await listDeadLetters(crm.queues.get("crm").dead)).entries[0], {
      timeoutMs: 10_000,
      message: "expired",
    });
    expect(entry).toMatchObject({ key, reason: "expired" });
    expect(crm.begins).toEqual([true]);
    expect(calls).toBe(0);
    expect(await crm.claimLeftMs(key)).toBe(-2);
  });

  it("ends the claim of a delivery interrupted by shutdown before it wrote: its next take goes ahead", async () => {
    let calls = 0;
    const crm = rig(async ({ signal, beforeWrite }) => {
      calls++;
      if (calls === 1) {
        // A slow lookup, cut off by the worker's drain.
        await new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => resolve(), { once: true });
          setTimeout(resolve, 10_000);
        });
        throw signal.reason;
      }
      await beforeWrite();
      return { status: 200 };
    });
    const key = await crm.send(uniqueName("h"));
    await waitFor(() => calls === 1 || undefined, { timeoutMs: 10_000, message: "delivery started" });
    const cancelled = Date.now();
    crm.worker.cancelAllJobs("shutting down");
    await waitFor(() => crm.plain.getDelivery(key, "crm"), { timeoutMs: 10_000, message: "delivered" });
    expect(Date.now() - cancelled).toBeLessThan(CLAIM_MS / 2);
    expect(crm.begins).toEqual([true, true]);
    expect(crm.outcomes).toEqual(["returned", "delivered"]);
  });

  it("ends the claim of a delivery whose lock was lost before it wrote", async () => {
    const crm = rig(
      async ({ signal, beforeWrite }) => {
        await new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => resolve(), { once: true });
          setTimeout(resolve, 10_000);
        });
        await beforeWrite();
        return { status: 200 };
      },
      { attempts: 1 },
    );
    const key = await crm.send(uniqueName("h"));
    await waitFor(async () => (await crm.queues.get("crm").deliver.getActive()).length === 1 || undefined, {
      timeoutMs: 10_000,
      message: "delivery started",
    });
    const [job] = await crm.queues.get("crm").deliver.getActive();
    // What the stalled-job check does to a lock that expired: another take now owns the job.
    await connection.del(crm.queues.get("crm").deliver.toKey(`${job?.id ?? ""}:lock`));
    await waitFor(() => crm.outcomes.includes("superseded") || undefined, {
      timeoutMs: 10_000,
      message: "superseded",
    });
    await waitFor(async () => (await crm.claimLeftMs(key)) === -2 || undefined, {
      timeoutMs: 2_000,
      message: "claim ended",
    });
    expect(crm.begins).toEqual([true]);
    // Its beforeWrite refused without asking for a claim.
    expect(crm.claims).toEqual([]);
  });
});
