import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWebhookAdapter, type WebhookConfig } from "@handoff-sync/adapters";
import {
  createDeliveryQueues,
  createDeliveryWorker,
  listDeadLetters,
  replayDeadLetters,
  resumeDestination,
  sweepStalledJobs,
  type DeliveryQueues,
  type DeliveryWorkerSettings,
} from "@handoff-sync/queue";
import { createStateCatalogue, type BackoffPolicy, type HandoffEvent } from "@handoff-sync/schema";
import { createHandoffStore, type HandoffStore, createRedisClient } from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import {
  startFakeServer,
  uniqueName,
  waitFor,
  WriteLog,
  type FakeServer,
  testRedisTarget,
  redisEnv,
} from "@handoff-sync/testing";
import { Worker } from "bullmq";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";

const log = createLogger({ level: "silent", service: "test" });
const catalogue = createStateCatalogue({});

/** A webhook receiver that records what it applied, with faults on demand. */
async function receiver(): Promise<{ fake: FakeServer; writes: WriteLog }> {
  const writes = new WriteLog();
  const fake = await startFakeServer((request) => {
    const body = request.body as { data: { key: string; version: number; state: string } };
    writes.record({
      operation: "create",
      object: "webhook",
      recordId: String(request.headers["webhook-id"]),
      externalId: body.data.key,
      version: body.data.version,
      fields: body.data,
    });
    return { status: 204 };
  });
  return { fake, writes };
}

function webhook(url: string): WebhookConfig {
  return {
    type: "webhook",
    url,
    secret: ["whsec_dGVzdC1zZWNyZXQ="],
    allow_private_network: true,
    timeout_ms: 2000,
    concurrency: 2,
    retry: { attempts: 3, base_delay_ms: 100, max_delay_ms: 400 },
  };
}

describe("delivery guarantees (real Redis, real HTTP)", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => connection.quit());

  function setup(
    destinations: Record<string, { url: string; policy?: Partial<BackoffPolicy> }>,
    worker: Partial<DeliveryWorkerSettings> = {},
  ) {
    const prefix = uniqueName("t");
    const store = createHandoffStore({ redis: connection, prefix, retentionMs: 600_000 });
    const policies = Object.fromEntries(
      Object.entries(destinations).map(([name, d]) => [
        name,
        { attempts: 3, base_delay_ms: 100, max_delay_ms: 400, ...d.policy },
      ]),
    );
    const queues = createDeliveryQueues({ connection, prefix, destinations: policies });
    const workers = Object.entries(destinations).map(([name, d]) => {
      const adapter = createWebhookAdapter(name, webhook(d.url));
      cleanups.push(() => adapter.close());
      const w = createDeliveryWorker({
        queue: queues.get(name),
        connection,
        store,
        log,
        concurrency: 2,
        deliver: (r) => adapter.deliver(r),
        ...worker,
      });
      cleanups.push(() => w.close());
      return w;
    });
    cleanups.push(() => queues.close());
    const send = (key: string, state: string, at: string) =>
      handoff(store, queues, Object.keys(destinations), key, state, at);
    const handoffTo = (to: string[], key: string, state: string, at: string) =>
      handoff(store, queues, to, key, state, at);
    return { prefix, store, queues, workers, send, handoffTo };
  }

  it("keeps destinations apart: one that is down never delays another", async () => {
    const up = await receiver();
    const down = await startFakeServer(() => ({ status: 204 }));
    cleanups.push(
      () => up.fake.close(),
      () => down.close(),
    );
    // Every request to the broken one hangs past the timeout.
    down.faults.add({ fault: { kind: "delay", ms: 5000 } });
    const { send } = setup({ healthy: { url: `${up.fake.url}/hook` }, broken: { url: `${down.url}/hook` } });
    const started = Date.now();
    for (let i = 0; i < 6; i++) await send(`iso-${i}`, "handoff_initiated", "2026-11-25T10:00:00Z");
    await waitFor(() => up.writes.all().length === 6, {
      timeoutMs: 10_000,
      message: "healthy destination delivered",
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("holds a destination to its own rate limit", async () => {
    const crm = await receiver();
    cleanups.push(() => crm.fake.close());
    const { send } = setup(
      { crm: { url: `${crm.fake.url}/hook` } },
      { rateLimit: { max: 2, durationMs: 1000 } },
    );
    for (let i = 0; i < 6; i++) await send(`rate-${i}`, "handoff_initiated", "2026-11-25T10:00:00Z");
    await waitFor(() => crm.writes.all().length === 6, { timeoutMs: 15_000, message: "all delivered" });
    const times = crm.fake.requests.map((r) => r.at).sort((a, b) => a - b);
    // Two per second: the sixth cannot arrive within two seconds of the first.
    expect((times[5] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(1900);
  });

  it("parks a destination on a destination-wide error, keeps its jobs, and drains them on resume", async () => {
    const crm = await receiver();
    cleanups.push(() => crm.fake.close());
    crm.fake.faults.next({ kind: "status", status: 410, body: "gone" });
    const { queues, store, send } = setup({ crm: { url: `${crm.fake.url}/hook` } });
    await send("park-1", "handoff_initiated", "2026-11-25T10:00:00Z");
    const queue = queues.get("crm");
    await waitFor(async () => (await queue.state.getPark()) !== undefined, { message: "parked" });
    expect(await queue.deliver.isPaused()).toBe(true);
    await send("park-2", "handoff_initiated", "2026-11-25T10:00:00Z");
    await new Promise((r) => setTimeout(r, 1500));
    expect(crm.writes.all()).toHaveLength(0);
    expect((await listDeadLetters(queue.dead)).total).toBe(0);
    expect(await queue.state.getPark()).toMatchObject({
      reason: expect.stringContaining("410") as unknown,
      admin_hint: expect.any(String) as unknown,
      by: "worker",
    });

    await resumeDestination(queue, queue.state, log, "test");
    await waitFor(() => crm.writes.all().length === 2, { timeoutMs: 10_000, message: "backlog drained" });
    expect(new Set(crm.writes.all().map((w) => w.externalId))).toEqual(new Set(["park-1", "park-2"]));
    expect((await store.getDelivery("park-1", "crm"))?.version).toBe(1);
  });

  it("honours Retry-After on 429 without spending attempts, and parks a destination that answers 429 forever", async () => {
    const crm = await receiver();
    cleanups.push(() => crm.fake.close());
    crm.fake.faults.next({ kind: "status", status: 429, headers: { "retry-after": "1" } }, 4);
    const { queues, send } = setup(
      { crm: { url: `${crm.fake.url}/hook`, policy: { attempts: 2 } } },
      { parkAfterRateLimitedMs: 60_000 },
    );
    const started = Date.now();
    await send("rl-1", "handoff_initiated", "2026-11-25T10:00:00Z");
    await waitFor(() => crm.writes.all().length === 1, {
      timeoutMs: 20_000,
      message: "delivered after 429s",
    });
    // Four 429s with Retry-After: 1 s each, yet only 2 attempts allowed: rate limits spent none.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3900);
    expect((await listDeadLetters(queues.get("crm").dead)).total).toBe(0);

    crm.fake.faults.add({ fault: { kind: "status", status: 429, headers: { "retry-after": "0" } } });
    const forever = setup({ crm2: { url: `${crm.fake.url}/hook` } }, { parkAfterRateLimitedMs: 1500 });
    await forever.send("rl-2", "handoff_initiated", "2026-11-25T10:00:00Z");
    await waitFor(async () => (await forever.queues.get("crm2").state.getPark())?.reason.includes("429"), {
      timeoutMs: 20_000,
      message: "parked after 429s",
    });
  });

  it("parks after the same permanent error on several records in a row", async () => {
    const crm = await receiver();
    cleanups.push(() => crm.fake.close());
    crm.fake.faults.add({
      fault: { kind: "status", status: 422, body: '{"error":"field Foo__c does not exist"}' },
    });
    const { queues, send } = setup(
      { crm: { url: `${crm.fake.url}/hook` } },
      { parkAfterIdenticalFailures: 3, concurrency: 1 },
    );
    for (let i = 0; i < 5; i++) await send(`perm-${i}`, "handoff_initiated", "2026-11-25T10:00:00Z");
    const queue = queues.get("crm");
    await waitFor(async () => (await queue.state.getPark())?.reason.includes("3 records in a row"), {
      timeoutMs: 15_000,
      message: "parked",
    });
    const dead = await listDeadLetters(queue.dead);
    expect(dead.total).toBe(2);
    expect(
      dead.entries.every(
        (e) => e.reason === "permanent" && e.attempts.length === 1 && e.attempts[0]?.status === 422,
      ),
    ).toBe(true);
  });

  it("dead-letters a delivery past its deadline as expired", async () => {
    const crm = await receiver();
    cleanups.push(() => crm.fake.close());
    const { queues, send } = setup({ crm: { url: `${crm.fake.url}/hook`, policy: { deadline_ms: 60_000 } } });
    await send("late-1", "handoff_initiated", new Date(Date.now() - 120_000).toISOString());
    const entry = await waitFor(async () => (await listDeadLetters(queues.get("crm").dead)).entries[0], {
      message: "expired entry",
    });
    expect(entry).toMatchObject({ key: "late-1", reason: "expired" });
    expect(crm.writes.all()).toHaveLength(0);
  });

  it("sends a delivery past its deadline to the fallback destination instead, when one is configured", async () => {
    const crm = await receiver();
    const callback = await receiver();
    cleanups.push(
      () => crm.fake.close(),
      () => callback.fake.close(),
    );
    const late: { queues?: DeliveryQueues } = {};
    const stack = setup(
      {
        crm: { url: `${crm.fake.url}/hook`, policy: { deadline_ms: 60_000 } },
        callback: { url: `${callback.fake.url}/hook` },
      },
      {
        onExpired: async (snapshot) => {
          await late.queues?.enqueue("callback", {
            v: 1,
            key: snapshot.key,
            version: snapshot.version,
            event_id: "fallback",
            occurred_at: snapshot.occurred_at,
            enqueued_at: new Date().toISOString(),
          });
          return true;
        },
      },
    );
    late.queues = stack.queues;
    await stack.handoffTo(["crm"], "late-2", "handoff_failed", new Date(Date.now() - 120_000).toISOString());
    await waitFor(() => callback.writes.all().some((w) => w.externalId === "late-2"), {
      message: "fallback delivered",
    });
    expect(crm.writes.all()).toHaveLength(0);
    expect((await listDeadLetters(stack.queues.get("crm").dead)).total).toBe(0);
  });

  it("replays dead letters with the latest snapshot, with a dry run, idempotently", async () => {
    const crm = await receiver();
    cleanups.push(() => crm.fake.close());
    crm.fake.faults.next({ kind: "status", status: 503 }, 3);
    const { queues, store, send } = setup({ crm: { url: `${crm.fake.url}/hook` } });
    await send("replay-1", "handoff_initiated", "2026-11-25T10:00:00Z");
    const queue = queues.get("crm");
    const entry = await waitFor(async () => (await listDeadLetters(queue.dead)).entries[0], {
      timeoutMs: 15_000,
      message: "exhausted",
    });
    expect(entry).toMatchObject({ reason: "exhausted", version: 1 });
    expect(entry.attempts.map((a) => a.status)).toEqual([503, 503, 503]);
    // A newer state arrives while it sits there; the fault budget is spent, so this one is delivered.
    await send("replay-1", "handoff_completed", "2026-11-25T10:05:00Z");
    await waitFor(() => crm.writes.all().some((w) => w.version === 2), { message: "v2 delivered" });

    const dry = await replayDeadLetters(queue, store, { filter: { reason: "exhausted" } }, { dryRun: true });
    expect(dry).toEqual([
      expect.objectContaining({
        id: entry.id,
        sendVersion: 2,
        deliveredVersion: 2,
        action: "already_delivered",
      }),
    ]);
    expect((await listDeadLetters(queue.dead)).total).toBe(1);
    const real = await replayDeadLetters(queue, store, { ids: [entry.id] }, { dryRun: false });
    expect(real.map((r) => r.action)).toEqual(["already_delivered"]);
    expect((await listDeadLetters(queue.dead)).total).toBe(0);
    expect(await replayDeadLetters(queue, store, { ids: [entry.id] }, { dryRun: false })).toEqual([]);
    expect(crm.writes.all().filter((w) => w.version === 1)).toHaveLength(0);

    crm.fake.faults.next({ kind: "status", status: 503 }, 3);
    await send("replay-2", "handoff_initiated", "2026-11-25T10:00:00Z");
    await waitFor(async () => (await listDeadLetters(queue.dead)).total === 1, {
      timeoutMs: 15_000,
      message: "second exhausted",
    });
    const second = await replayDeadLetters(queue, store, { filter: {} }, { dryRun: false });
    expect(second).toEqual([expect.objectContaining({ key: "replay-2", sendVersion: 1, action: "enqueue" })]);
    await waitFor(() => crm.writes.all().some((w) => w.externalId === "replay-2"), {
      message: "replayed delivery",
    });
    await replayDeadLetters(queue, store, { filter: {} }, { dryRun: false });
    await new Promise((r) => setTimeout(r, 500));
    expect(crm.writes.all().filter((w) => w.externalId === "replay-2")).toHaveLength(1);
  });

  it("sweeps jobs that BullMQ failed for stalling into the dead-letter queue", async () => {
    const crm = await receiver();
    cleanups.push(() => crm.fake.close());
    const prefix = uniqueName("t");
    const store = createHandoffStore({ redis: connection, prefix, retentionMs: 600_000 });
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: { crm: { attempts: 3, base_delay_ms: 100, max_delay_ms: 400 } },
    });
    cleanups.push(() => queues.close());
    const queue = queues.get("crm");
    await handoff(store, queues, ["crm"], "stall-1", "handoff_initiated", "2026-11-25T10:00:00Z");
    // A worker process that takes the job and is then killed -9: its lock is never renewed.
    const script = `
      import { Worker } from "bullmq";
      import { Cluster, Redis } from "ioredis";
      const url = new URL(process.env.REDIS_URL);
      const connection = process.env.REDIS_CLUSTER === "true"
        ? new Cluster([{ host: url.hostname, port: Number(url.port) }], { redisOptions: { maxRetriesPerRequest: null } })
        : new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
      new Worker(process.env.QUEUE, () => new Promise(() => {}), { connection, prefix: process.env.PREFIX, lockDuration: 1000, skipStalledCheck: true });
    `;
    const dying = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: {
        ...process.env,
        ...redisEnv(inject("redisUrl"), inject("redisCluster")),
        QUEUE: queue.deliver.name,
        PREFIX: queue.deliver.opts.prefix ?? "",
      },
      stdio: "ignore",
    });
    await waitFor(async () => (await queue.deliver.getActiveCount()) === 1, {
      timeoutMs: 15_000,
      message: "job taken",
    });
    dying.kill("SIGKILL");
    // Another worker's stall checker finds it; with maxStalledCount 0 the first stall fails it.
    const checker = new Worker(queue.deliver.name, () => Promise.reject(new Error("must not run")), {
      connection,
      prefix: queue.deliver.opts.prefix ?? "",
      maxStalledCount: 0,
      stalledInterval: 300,
    });
    cleanups.push(() => checker.close());
    await waitFor(async () => (await queue.deliver.getFailedCount()) === 1, {
      timeoutMs: 15_000,
      message: "failed as stalled",
    });
    await checker.close();
    expect(await sweepStalledJobs(queue, store, log)).toBe(1);
    const { entries } = await listDeadLetters(queue.dead);
    expect(entries).toEqual([expect.objectContaining({ key: "stall-1", reason: "stalled", version: 1 })]);
    expect(await queue.deliver.getFailedCount()).toBe(0);
    expect(await sweepStalledJobs(queue, store, log)).toBe(0);
  });
});

async function handoff(
  store: HandoffStore,
  queues: DeliveryQueues,
  destinations: string[],
  key: string,
  state: string,
  at: string,
): Promise<void> {
  const event: HandoffEvent = {
    schema_version: 1,
    event_id: randomUUID(),
    id: `conv-${key}`,
    shared_id: key,
    state,
    occurred_at: at,
    data: { customer_id: "1" },
  };
  const applied = await store.apply(event, { catalogue, receivedAt: new Date().toISOString() });
  for (const destination of destinations) {
    await queues.enqueue(destination, {
      v: 1,
      key: applied.key,
      version: applied.snapshot.version,
      event_id: event.event_id,
      occurred_at: at,
      enqueued_at: new Date().toISOString(),
    });
  }
}
