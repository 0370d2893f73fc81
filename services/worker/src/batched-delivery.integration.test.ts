import { createAdapter, type Adapter, type ResolvedDestination } from "@handoff-sync/adapters";
import {
  createDeliveryQueues,
  createDeliveryWorker,
  listDeadLetters,
  type DeliverFn,
  type DeliveryQueues,
  type DestinationQueue,
} from "@handoff-sync/queue";
import { createStateCatalogue, deliveryJobId, type HandoffEvent } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient, type HandoffStore } from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import {
  type FakeHubSpot,
  type FakeSalesforce,
  startFakeHubSpot,
  startFakeSalesforce,
  testRedisTarget,
  uniqueName,
  waitFor,
} from "@handoff-sync/testing";
import type { Worker } from "bullmq";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { deliveryPath, requestBudgetOf } from "./batched-deliver.js";

// Batched deliveries end to end below the services: real Redis and BullMQ, the real delivery worker
// and adapters, the fake CRMs over HTTP. Each job keeps its own outcome.

const log = createLogger({ level: "silent", service: "test" });
const catalogue = createStateCatalogue({});
const POLICY = { attempts: 5, base_delay_ms: 100, max_delay_ms: 300 };

const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
  maxRetriesPerRequest: null,
});
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});
afterAll(() => connection.quit());

interface Rig {
  readonly store: HandoffStore;
  readonly queues: DeliveryQueues;
  readonly batches: number[];
  readonly outcomes: string[];
  enqueue(key: string, version?: number): Promise<void>;
}

interface RigOptions {
  /**
   * Runs right after a delivery's write claim was taken, before its request leaves: what may happen
   * to a worker between its check and its send.
   */
  readonly afterClaim?: (key: string, rig: { worker: Worker; queue: DestinationQueue }) => Promise<void>;
  /** How often the worker looks for jobs whose lock was lost (BullMQ's 30 s when omitted). */
  readonly stalledIntervalMs?: number;
}

function rig(destination: ResolvedDestination, options: RigOptions = {}): Rig {
  const prefix = uniqueName("batch");
  const store = createHandoffStore({ redis: connection, prefix, retentionMs: 600_000 });
  const { afterClaim } = options;
  const queues = createDeliveryQueues({ connection, prefix, destinations: { crm: POLICY } });
  const budget = destination.budget === undefined ? undefined : requestBudgetOf(destination.budget);
  const adapter: Adapter = createAdapter("crm", destination, {
    ...(budget === undefined ? {} : { onUsage: (usage) => budget.observe(usage) }),
  });
  const batches: number[] = [];
  const outcomes: string[] = [];
  const path = deliveryPath(adapter, destination, {
    onBatch: (size) => batches.push(size),
    ...(budget === undefined ? {} : { budget }),
  });
  // After the check passed, however the claim was taken: by the begin script for a first write
  // soon after it, or afresh.
  const deliver: DeliverFn =
    afterClaim === undefined
      ? path.deliver
      : (request) =>
          path.deliver({
            ...request,
            beforeWrite: async () => {
              await request.beforeWrite();
              await afterClaim(request.snapshot.key, { worker, queue: queues.get("crm") });
            },
          });
  const worker: Worker = createDeliveryWorker({
    queue: queues.get("crm"),
    connection,
    store,
    log,
    concurrency: path.concurrency,
    deliver,
    random: () => 0.5,
    lockDurationMs: 4_000,
    requestTimeoutMs: destination.timeout_ms,
    writeSettleMs: 200,
    ...(options.stalledIntervalMs === undefined ? {} : { stalledIntervalMs: options.stalledIntervalMs }),
    onAttempt: (outcome) => outcomes.push(outcome),
  });
  cleanups.push(
    () => adapter.close(),
    () => queues.close(),
    () => worker.close(),
  );
  let counter = 0;
  return {
    store,
    queues,
    batches,
    outcomes,
    async enqueue(key, version = 1) {
      const state = version === 1 ? "handoff_initiated" : "handoff_completed";
      const event: HandoffEvent = {
        schema_version: 1,
        event_id: `e-${key}-${++counter}`,
        id: `conv-${key}`,
        shared_id: key,
        state,
        occurred_at: new Date(Date.parse("2026-11-25T10:00:00.000Z") + version * 1000).toISOString(),
        data: { customer_id: "1" },
      };
      const applied = await store.apply(event, { catalogue, receivedAt: new Date().toISOString() });
      await queues.enqueue("crm", {
        v: 1,
        key: applied.key,
        version: applied.snapshot.version,
        event_id: event.event_id,
        occurred_at: event.occurred_at,
        enqueued_at: new Date().toISOString(),
      });
    },
  };
}

function hubspotDestination(
  hubspot: FakeHubSpot,
  timeoutMs = 2_000,
  batch = { max_size: 100, max_wait_ms: 100 },
): ResolvedDestination {
  return {
    type: "hubspot",
    base_url: hubspot.url,
    auth: { method: "private_app", token: "pat-na1-fake" },
    object: "tickets",
    id_property: "handoff_key",
    version_property: "handoff_version",
    contact_association: {
      enabled: true,
      path: "data.hubspot_contact_id",
      association_type_id: 16,
      association_category: "HUBSPOT_DEFINED",
    },
    on_missing_record: "recreate",
    allow_private_network: true,
    timeout_ms: timeoutMs,
    concurrency: 4,
    retry: POLICY,
    batch,
  };
}

function salesforceDestination(salesforce: FakeSalesforce): ResolvedDestination {
  return {
    type: "salesforce",
    instance_url: salesforce.url,
    api_version: "62.0",
    auth: { method: "client_credentials", client_id: "fake-client-id", client_secret: "fake-client-secret" },
    object: "Case",
    external_id_field: "Handoff_Key__c",
    version_field: "Handoff_Version__c",
    on_missing_record: "recreate",
    allow_private_network: true,
    timeout_ms: 2_000,
    concurrency: 4,
    retry: POLICY,
    batch: { max_size: 200, max_wait_ms: 100 },
  };
}

const keys = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

async function allDelivered(store: HandoffStore, handoffs: readonly string[], version = 1): Promise<void> {
  await waitFor(
    async () => {
      const entries = await Promise.all(handoffs.map((key) => store.getDelivery(key, "crm")));
      return entries.every((entry) => entry !== undefined && entry.version >= version) ? true : undefined;
    },
    { timeoutMs: 30_000, message: "every handoff delivered" },
  );
}

describe("batched delivery through the worker", () => {
  it("HubSpot: 40 handoffs in a few batch requests, each job with its own ledger entry", async () => {
    const hubspot = await startFakeHubSpot();
    cleanups.push(() => hubspot.close());
    const crm = rig(hubspotDestination(hubspot));
    const handoffs = keys(40, "hs");
    await Promise.all(handoffs.map((key) => crm.enqueue(key)));
    await allDelivered(crm.store, handoffs);
    const upserts = hubspot.requests.filter((r) => r.path.endsWith("/batch/upsert")).length;
    expect(upserts).toBe(crm.batches.length);
    expect(upserts).toBeLessThanOrEqual(10);
    expect(crm.batches.reduce((a, b) => a + b, 0)).toBe(40);
    const records = hubspot.records("tickets");
    expect(records).toHaveLength(40);
    for (const key of handoffs) {
      const entry = await crm.store.getDelivery(key, "crm");
      expect(entry?.record_id).toBe(records.find((r) => r.properties["handoff_key"] === key)?.id);
    }
  });

  it("HubSpot: the next batch fills and goes out while one is still unanswered", async () => {
    // Each answer takes a second: a worker with room for one batch only would pay it batch by batch.
    const hubspot = await startFakeHubSpot({ latencyMs: 1_000 });
    cleanups.push(() => hubspot.close());
    // Batches go out only when full, so the second can only form from jobs that run beside the first.
    const crm = rig(hubspotDestination(hubspot, 5_000, { max_size: 20, max_wait_ms: 10_000 }));
    const handoffs = keys(40, "hs-overlap");
    await Promise.all(handoffs.map((key) => crm.enqueue(key)));
    await allDelivered(crm.store, handoffs);
    expect(crm.batches).toEqual([20, 20]);
    const upserts = hubspot.requests.filter((r) => r.path.endsWith("/batch/upsert"));
    expect(upserts).toHaveLength(2);
    const [first, second] = upserts.map((r) => r.at);
    expect((second ?? Number.POSITIVE_INFINITY) - (first ?? 0)).toBeLessThan(1_000);
  });

  it("HubSpot: an input refused in a 207 is dead-lettered alone; one refused once retries alone", async () => {
    const hubspot = await startFakeHubSpot();
    cleanups.push(() => hubspot.close());
    hubspot.rejectInput(
      "hs-bad",
      { category: "VALIDATION_ERROR", message: "Property values were not valid" },
      100,
    );
    hubspot.rejectInput("hs-busy", { category: "CONFLICT", message: "concurrent write" }, 1);
    const crm = rig(hubspotDestination(hubspot));
    const good = keys(10, "hs-good");
    for (const key of [...good, "hs-bad", "hs-busy"]) await crm.enqueue(key);
    await allDelivered(crm.store, [...good, "hs-busy"]);
    const dead = await waitFor(async () => (await listDeadLetters(crm.queues.get("crm").dead)).entries[0], {
      timeoutMs: 10_000,
      message: "the refused input dead-lettered",
    });
    expect(dead).toMatchObject({ key: "hs-bad", reason: "permanent" });
    expect((await listDeadLetters(crm.queues.get("crm").dead)).entries).toHaveLength(1);
    expect(await crm.store.getDelivery("hs-bad", "crm")).toBeUndefined();
    expect(await crm.queues.get("crm").state.getPark()).toBeUndefined();
    // hs-busy took two attempts; nobody else needed a second.
    expect(hubspot.writes.all().filter((w) => w.externalId === "hs-busy")).toHaveLength(1);
  });

  it("HubSpot: a batch that commits and times out is retried by each job; no record is created twice", async () => {
    const hubspot = await startFakeHubSpot();
    cleanups.push(() => hubspot.close());
    hubspot.faults.next({ kind: "delay_after_commit", ms: 1_500 });
    const crm = rig(hubspotDestination(hubspot, 400));
    const handoffs = keys(12, "hs-amb");
    for (const key of handoffs) await crm.enqueue(key);
    await allDelivered(crm.store, handoffs);
    expect(hubspot.records("tickets")).toHaveLength(12);
    const creates = hubspot.writes.all().filter((w) => w.operation === "create");
    expect(creates).toHaveLength(12);
    // The first write landed though nobody heard back: the retries found and updated those records.
    expect(hubspot.writes.all().filter((w) => w.operation === "update").length).toBeGreaterThanOrEqual(1);
    for (const key of handoffs) expect(await crm.store.getAttempts(key, "crm")).toEqual([]);
  });

  it("HubSpot: a delivery that loses its lock between its check and the batch request drops out alone; the others are written", async () => {
    const hubspot = await startFakeHubSpot();
    cleanups.push(() => hubspot.close());
    const victim = "hs-lock-lost";
    let lockLost = false;
    const crm = rig(
      // Six deliveries fill one batch, so the victim surely shares its request with the others.
      hubspotDestination(hubspot, 2_000, { max_size: 6, max_wait_ms: 2_000 }),
      {
        stalledIntervalMs: 500,
        afterClaim: async (key, { worker, queue }) => {
          if (key !== victim || lockLost) return;
          lockLost = true;
          // The stalled-job check gave the job to another take (its lock is gone), and BullMQ tells the
          // worker so as it fails to renew it: the delivery is cancelled with its check already passed.
          const jobId = deliveryJobId(key, 1);
          await connection.del(queue.deliver.toKey(`${jobId}:lock`));
          worker.emit("lockRenewalFailed", [jobId]);
        },
      },
    );
    const others = keys(5, "hs-lock-kept");
    for (const key of [...others, victim]) await crm.enqueue(key);
    // Each of the five kept its lock: each is delivered by this first batch's retry, not superseded.
    await allDelivered(crm.store, [...others, victim]);
    expect(lockLost).toBe(true);
    expect(crm.batches[0]).toBe(6);
    expect(crm.outcomes.filter((o) => o === "superseded")).toEqual(["superseded"]);
    expect(await crm.queues.get("crm").deliver.getFailed()).toEqual([]);
    const records = hubspot.records("tickets");
    expect(records).toHaveLength(6);
    expect(hubspot.writes.all().filter((w) => w.operation === "create")).toHaveLength(6);
  });

  it("HubSpot: later versions of the same handoffs go out in later batches, and the CRM ends at the latest", async () => {
    const hubspot = await startFakeHubSpot();
    cleanups.push(() => hubspot.close());
    const crm = rig(hubspotDestination(hubspot));
    const handoffs = keys(10, "hs-v");
    for (const key of handoffs) await crm.enqueue(key, 1);
    await allDelivered(crm.store, handoffs);
    for (const key of handoffs) await crm.enqueue(key, 2);
    await allDelivered(crm.store, handoffs, 2);
    for (const record of hubspot.records("tickets")) expect(record.properties["handoff_version"]).toBe("2");
  });

  it("Salesforce: per-record failures stay per job, and a spent daily allocation parks the destination with its reason", async () => {
    const salesforce = await startFakeSalesforce({
      dailyApiLimit: 1_000,
      validate: (_object, fields) =>
        String(fields["Description"]).includes("sf-bad")
          ? { errorCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", message: "refused", fields: [] }
          : undefined,
    });
    cleanups.push(() => salesforce.close());
    const crm = rig(salesforceDestination(salesforce));
    const good = keys(20, "sf-good");
    await Promise.all([...good, "sf-bad"].map((key) => crm.enqueue(key)));
    await allDelivered(crm.store, good);
    const dead = await waitFor(async () => (await listDeadLetters(crm.queues.get("crm").dead)).entries[0], {
      timeoutMs: 10_000,
      message: "the refused record dead-lettered",
    });
    expect(dead).toMatchObject({ key: "sf-bad", reason: "permanent" });
    expect(salesforce.records()).toHaveLength(20);
    // One API request per batch, and far fewer batches than deliveries (how many depends on how fast
    // the jobs arrive on a busy machine).
    expect(salesforce.apiUsage().used).toBe(crm.batches.length);
    expect(crm.batches.length).toBeLessThanOrEqual(10);

    salesforce.setApiUsage(1_000);
    const later = keys(5, "sf-later");
    for (const key of later) await crm.enqueue(key);
    const park = await waitFor(() => crm.queues.get("crm").state.getPark(), {
      timeoutMs: 10_000,
      message: "destination parked",
    });
    expect(park.reason).toContain("daily API request limit exceeded");
    // Salesforce's allocation is a rolling 24 hours: no reset to wait for, the probe decides.
    expect(park).toMatchObject({ cause: "quota" });
    expect(park.resume_after).toBeUndefined();
    // Parking does not spend the jobs' attempts: none of them is dead-lettered.
    expect((await listDeadLetters(crm.queues.get("crm").dead)).entries).toHaveLength(1);
  });
});

describe("request budget through the worker", () => {
  it("slows before HubSpot's ten-second limit instead of meeting 429s", async () => {
    const hubspot = await startFakeHubSpot({ rateLimits: { tenSecondly: 4 } });
    cleanups.push(() => hubspot.close());
    const { batch: _batch, ...single } = hubspotDestination(hubspot) as Extract<
      ResolvedDestination,
      { type: "hubspot" }
    >;
    // No limit configured: the first answer's X-HubSpot-RateLimit-Max says 4; a quarter is kept free.
    const crm = rig({ ...single, budget: { headroom: 0.25 } });
    const handoffs = keys(6, "paced");
    const started = Date.now();
    for (const key of handoffs) await crm.enqueue(key);
    await allDelivered(crm.store, handoffs);
    expect(crm.outcomes.filter((o) => o === "rate_limited")).toEqual([]);
    expect(crm.outcomes.filter((o) => o === "delivered")).toHaveLength(6);
    // Three requests per ten seconds: the last three waited for the window to move on.
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
  });

  it("parks the destination once the day's allocation is spent, with the reason, before HubSpot refuses", async () => {
    const hubspot = await startFakeHubSpot({ rateLimits: { daily: 3 } });
    cleanups.push(() => hubspot.close());
    const { batch: _batch, ...single } = hubspotDestination(hubspot) as Extract<
      ResolvedDestination,
      { type: "hubspot" }
    >;
    const crm = rig({ ...single, concurrency: 1, budget: { headroom: 0.1 } });
    for (const key of keys(3, "day")) await crm.enqueue(key);
    await allDelivered(crm.store, keys(3, "day"));
    await crm.enqueue("day-over");
    const park = await waitFor(() => crm.queues.get("crm").state.getPark(), {
      timeoutMs: 10_000,
      message: "destination parked",
    });
    expect(park.reason).toMatch(
      /^daily API budget spent \(3\/3 requests\); it resets at \d{4}-\d\d-\d\dT00:00:00.000Z$/,
    );
    // Parked for its quota until the reset, so the probe does not resume it while the day is spent.
    expect(park).toMatchObject({ cause: "quota" });
    const midnight = Math.ceil(Date.now() / 86_400_000) * 86_400_000;
    expect(Math.abs(Date.parse(park.resume_after ?? "") - midnight)).toBeLessThan(1000);
    // Nothing was sent past the allocation: HubSpot never had to answer 429 DAILY.
    expect(hubspot.requests).toHaveLength(3);
    expect((await listDeadLetters(crm.queues.get("crm").dead)).entries).toEqual([]);
  });
});
