import { randomUUID } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDeliveryQueues, type DeliveryQueues } from "@handoff-sync/queue";
import { createStateCatalogue, type HandoffEvent } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient, type HandoffStore } from "@handoff-sync/store";
import {
  type FakeServiceNow,
  freePort,
  redisEnv,
  type RunningService,
  startFakeServiceNow,
  startService,
  testRedisTarget,
  uniqueName,
  waitFor,
} from "@handoff-sync/testing";
import { afterAll, describe, expect, inject, it } from "vitest";

const catalogue = createStateCatalogue({});
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const LOCK_MS = 1000;

/**
 * Two worker processes on one ServiceNow destination. The first is frozen with SIGSTOP in the
 * middle of a delivery (as a long event-loop stall or GC pause would), long enough for its queue
 * lock to expire; the second recovers the job as stalled and delivers it. The first then wakes up
 * holding a lookup answer that predates the second's write. ServiceNow has no conditional write
 * and no upsert, so whatever the first sends next lands: a second record, or an older version.
 */
describe("a delivery whose worker stalled past its lock", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await connection.quit();
  });

  async function setUp(options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<{
    crm: FakeServiceNow;
    store: HandoffStore;
    queues: DeliveryQueues;
    start: () => Promise<RunningService>;
  }> {
    const crm = await startFakeServiceNow();
    cleanups.push(() => crm.close());
    const prefix = uniqueName("fence");
    const store = createHandoffStore({ redis: connection, prefix, retentionMs: 600_000 });
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: { sn: { attempts: 5, base_delay_ms: 100, max_delay_ms: 500 } },
    });
    cleanups.push(() => queues.close());
    const dir = await mkdtemp(join(tmpdir(), "handoff-sync-fence-"));
    const config = join(dir, "destinations.yaml");
    await writeFile(
      config,
      [
        "version: 1",
        "destinations:",
        "  sn:",
        "    type: servicenow",
        `    instance_url: ${crm.url}`,
        "    auth: { method: basic, username: env:SN_USER, password: env:SN_PASSWORD }",
        "    allow_private_network: true",
        // By default longer than the freeze: the frozen request must not time out when its process wakes.
        `    timeout_ms: ${options.timeoutMs ?? 60_000}`,
        "    retry: { attempts: 5, base_delay_ms: 100, max_delay_ms: 500 }",
        "",
      ].join("\n"),
    );
    const env = {
      KAFKA_BROKERS: inject("kafkaBrokers"),
      ...redisEnv(inject("redisUrl"), inject("redisCluster")),
      REDIS_PREFIX: prefix,
      HANDOFF_SYNC_CONFIG: config,
      LOG_LEVEL: "warn",
      WORKER_LOCK_DURATION_MS: String(LOCK_MS),
      WORKER_STALLED_INTERVAL_MS: "300",
      WORKER_SWEEP_INTERVAL_MS: "1000",
      WORKER_DRAIN_TIMEOUT_MS: "1000",
      SN_USER: "integration.user",
      SN_PASSWORD: "integration-password",
      ...options.env,
    };
    const start = async (): Promise<RunningService> => {
      const service = await startService("worker", env, { port: await freePort() });
      cleanups.push(async () => {
        service.process.kill("SIGCONT");
        return service.kill();
      });
      return service;
    };
    return { crm, store, queues, start };
  }

  async function event(
    store: HandoffStore,
    queues: DeliveryQueues,
    key: string,
    state: string,
    at: string,
  ): Promise<number> {
    const e: HandoffEvent = {
      schema_version: 1,
      event_id: randomUUID(),
      id: `conv-${key}`,
      shared_id: key,
      state,
      occurred_at: at,
      data: { customer_id: "c-1" },
    };
    const applied = await store.apply(e, { catalogue, receivedAt: new Date().toISOString() });
    await queues.enqueue("sn", {
      v: 1,
      key: applied.key,
      version: applied.snapshot.version,
      event_id: e.event_id,
      occurred_at: at,
      enqueued_at: new Date().toISOString(),
    });
    return applied.snapshot.version;
  }

  /** Holds the next request matching `match`, freezes the first worker, then lets the fake answer into the frozen socket. */
  async function freezeOn(
    crm: FakeServiceNow,
    worker: RunningService,
    match: (r: { method: string; path: string }) => boolean,
  ): Promise<void> {
    crm.faults.prepend({ match, fault: { kind: "hold" }, times: 1 });
    const held = await crm.faults.waitForHeld();
    worker.process.kill("SIGSTOP");
    held.release();
  }

  it("never creates a second record from a lookup answer that went stale during the stall", async () => {
    const { crm, store, queues, start } = await setUp();
    const first = await start();
    const key = uniqueName("stall-create");
    const freezing = freezeOn(
      crm,
      first,
      (r) => r.method === "GET" && r.path.startsWith("/api/now/table/incident"),
    );
    await event(store, queues, key, "handoff_initiated", "2026-12-01T10:00:00Z");
    await freezing;
    // The lookup has been answered "none" into the frozen process. Its lock now expires; the second
    // worker finds the job stalled and delivers it.
    const second = await start();
    await waitFor(() => crm.records("incident").some((r) => r["correlation_id"] === key), {
      timeoutMs: 20_000,
      message: "the second worker's delivery",
    });
    const v2 = await event(store, queues, key, "handoff_completed", "2026-12-01T10:01:00Z");
    await waitFor(async () => (await store.getDelivery(key, "sn"))?.version === v2, {
      timeoutMs: 20_000,
      message: "version 2 delivered",
    });

    first.process.kill("SIGCONT");
    // Time for the woken worker to do whatever it was about to do.
    await sleep(3000);
    const records = crm.records("incident").filter((r) => r["correlation_id"] === key);
    expect(records).toHaveLength(1);
    expect(records[0]?.["u_handoff_version"]).toBe(String(v2));
    expect((await store.getDelivery(key, "sn"))?.version).toBe(v2);
    expect(first.lines.join("\n")).toMatch(/delivery superseded|queue lock lost/);
    await Promise.all([first.stop(), second.stop()]);
  });

  it("never writes an older version over a newer one after the stall", async () => {
    const { crm, store, queues, start } = await setUp();
    const first = await start();
    const key = uniqueName("stall-backward");
    await event(store, queues, key, "handoff_initiated", "2026-12-01T10:00:00Z");
    await waitFor(async () => (await store.getDelivery(key, "sn"))?.version === 1, {
      timeoutMs: 20_000,
      message: "version 1 delivered",
    });
    // Without a ledger entry (lost with Redis' last second, say) the adapter looks the record up and
    // compares versions: a check that is only as fresh as its answer.
    await connection.hdel(store.keys.ledger(key), "sn");
    const freezing = freezeOn(
      crm,
      first,
      (r) => r.method === "GET" && r.path.startsWith("/api/now/table/incident"),
    );
    await event(store, queues, key, "handoff_completed", "2026-12-01T10:01:00Z");
    await freezing;
    // The first worker holds "the CRM has version 1" and is about to send version 2.
    const v3 = await event(store, queues, key, "handoff_failed", "2026-12-01T10:02:00Z");
    const second = await start();
    await waitFor(async () => (await store.getDelivery(key, "sn"))?.version === v3, {
      timeoutMs: 20_000,
      message: "version 3 delivered",
    });

    first.process.kill("SIGCONT");
    await sleep(3000);
    const records = crm.records("incident").filter((r) => r["correlation_id"] === key);
    expect(records).toHaveLength(1);
    expect(records[0]?.["u_handoff_version"]).toBe(String(v3));
    await Promise.all([first.stop(), second.stop()]);
  });

  it("never creates a second record while a timed-out create may still land", async () => {
    // The CRM applies the create after the client gave up on it; the retry comes first.
    const { crm, store, queues, start } = await setUp({
      timeoutMs: 1000,
      env: { WORKER_WRITE_SETTLE_MS: "3000", LOG_LEVEL: "info" },
    });
    const worker = await start();
    const key = uniqueName("late-create");
    crm.faults.prepend({ match: (r) => r.method === "POST", fault: { kind: "delay", ms: 2500 }, times: 1 });
    await event(store, queues, key, "handoff_initiated", "2026-12-01T10:00:00Z");
    await waitFor(async () => (await store.getDelivery(key, "sn"))?.version === 1, {
      timeoutMs: 30_000,
      message: "version 1 delivered",
    });
    await sleep(3000);
    expect(crm.records("incident").filter((r) => r["correlation_id"] === key)).toHaveLength(1);
    expect(worker.lines.join("\n")).toMatch(/an earlier write of this delivery may still land/);
    await worker.stop();
  });

  it("never creates a second record while another worker's create is in flight", async () => {
    const { crm, store, queues, start } = await setUp({
      timeoutMs: 20_000,
      env: { WORKER_WRITE_SETTLE_MS: "2000", LOG_LEVEL: "info" },
    });
    const first = await start();
    const key = uniqueName("inflight-create");
    // The create reaches the CRM, which holds it unanswered and unapplied (a slow transaction); its
    // worker freezes with the request in flight.
    crm.faults.prepend({ match: (r) => r.method === "POST", fault: { kind: "hold" }, times: 1 });
    await event(store, queues, key, "handoff_initiated", "2026-12-01T10:00:00Z");
    const held = await crm.faults.waitForHeld();
    first.process.kill("SIGSTOP");
    // Past the first's lock: the second worker takes the job over while the create is pending. It
    // must wait for that write instead of looking up (finding nothing) and creating its own.
    const second = await start();
    const waiting = /an earlier write of this delivery may still land/;
    await waitFor(
      () =>
        second.lines.some((line) => waiting.test(line)) ||
        crm.requests.filter((r) => r.method === "POST").length >= 2,
      { timeoutMs: 30_000, message: "the second worker waiting, or creating" },
    );
    held.release();
    first.process.kill("SIGCONT");
    await waitFor(async () => (await store.getDelivery(key, "sn"))?.version === 1, {
      timeoutMs: 60_000,
      message: "version 1 delivered",
    });
    await sleep(1000);
    expect(crm.records("incident").filter((r) => r["correlation_id"] === key)).toHaveLength(1);
    await Promise.all([first.stop(), second.stop()]);
  }, 120_000);
});
