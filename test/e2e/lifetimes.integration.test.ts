import { randomUUID } from "node:crypto";
import { createKeyLayout, createRedisClient } from "@handoff-sync/store";
import {
  type Pipeline,
  type ReceivedDelivery,
  startPipeline,
  testRedisTarget,
  uniqueName,
  waitFor,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

// Short enough to outlive in a test, long enough for a delivery to finish within it on a busy machine.
const RETENTION_MS = 5000;

function event(fields: {
  id: string;
  shared_id: string;
  state: string;
  at: string;
  data?: Record<string, unknown>;
}) {
  return {
    event_id: randomUUID(),
    id: fields.id,
    shared_id: fields.shared_id,
    state: fields.state,
    occurred_at: fields.at,
    data: fields.data ?? {},
  };
}

/**
 * A handoff comes back under the same shared_id after its first lifetime ended. Its new states
 * must reach the CRM as new writes: not skipped by the ledger, not folded into an old job id, not
 * ignored by the CRM as a repeat of a version it already has.
 */
describe("a handoff that comes back (real Kafka, Redis, services and webhook CRM)", () => {
  let pipeline: Pipeline;
  const redis = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")));

  beforeAll(async () => {
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      env: { HANDOFF_RETENTION_MS: String(RETENTION_MS) },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    redis.disconnect();
  });

  const deliveredTo = (sharedId: string, state: string, above: number): Promise<ReceivedDelivery> =>
    waitFor(
      async () =>
        (await pipeline.deliveries()).find(
          (d) => d.key === sharedId && d.state === state && d.version > above,
        ),
      {
        timeoutMs: 30_000,
        message: `${sharedId} ${state} above v${above} delivered`,
      },
    );

  /** Two states of one lifetime, each delivered; returns the version the CRM has. */
  async function firstLifetime(sharedId: string): Promise<number> {
    const id = randomUUID();
    await pipeline.produce([
      event({
        id,
        shared_id: sharedId,
        state: "handoff_initiated",
        at: "2026-11-25T10:00:00.000Z",
        data: { customer_id: "c-1" },
      }),
    ]);
    await deliveredTo(sharedId, "handoff_initiated", 0);
    await pipeline.produce([
      event({ id, shared_id: sharedId, state: "handoff_completed", at: "2026-11-25T10:01:00.000Z" }),
    ]);
    return (await deliveredTo(sharedId, "handoff_completed", 0)).version;
  }

  async function secondLifetime(sharedId: string, crmHas: number): Promise<void> {
    const id = randomUUID();
    await pipeline.produce([
      event({
        id,
        shared_id: sharedId,
        state: "handoff_initiated",
        at: "2026-11-26T09:00:00.000Z",
        data: { customer_id: "c-2" },
      }),
    ]);
    const initiated = await deliveredTo(sharedId, "handoff_initiated", crmHas);
    await pipeline.produce([
      event({ id, shared_id: sharedId, state: "handoff_failed", at: "2026-11-26T09:01:00.000Z" }),
    ]);
    const failed = await deliveredTo(sharedId, "handoff_failed", initiated.version);
    // New writes, not repeats the CRM would drop, and only the new lifetime's data.
    expect([initiated.duplicate, failed.duplicate]).toEqual([false, false]);
    expect(initiated.data).toEqual({ customer_id: "c-2" });
    const mine = (await pipeline.deliveries()).filter((d) => d.key === sharedId);
    expect(mine.at(-1)).toMatchObject({ state: "handoff_failed", version: failed.version });
  }

  it("keeps counting its versions after its retention expired, and its ledger expired with it", async () => {
    const sharedId = uniqueName("back");
    const crmHas = await firstLifetime(sharedId);
    const keys = createKeyLayout(pipeline.prefix);
    await waitFor(async () => (await redis.exists(keys.snapshot(sharedId), keys.ledger(sharedId))) === 0, {
      timeoutMs: RETENTION_MS + 10_000,
      message: "snapshot and ledger expired",
    });
    await secondLifetime(sharedId, crmHas);
  });

  it("keeps counting its versions after an erasure through the admin API", async () => {
    const sharedId = uniqueName("erased");
    const crmHas = await firstLifetime(sharedId);
    const response = await pipeline.api("/admin/v1/erasure", {
      method: "POST",
      body: JSON.stringify({ shared_id: sharedId }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ handoffs: 1 });
    expect((await pipeline.api(`/v1/handoffs?shared_id=${sharedId}`, { scope: "read" })).status).toBe(404);
    await secondLifetime(sharedId, crmHas);
  });
});
