import { createRedisClient } from "./redis-client.js";
import { createStateCatalogue, type HandoffEvent } from "@handoff-sync/schema";
import { uniqueName, testRedisTarget } from "@handoff-sync/testing";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createHandoffStore } from "./handoff-store.js";

const catalogue = createStateCatalogue({});
const context = () => ({ catalogue, receivedAt: new Date().toISOString() });

function event(fields: Partial<HandoffEvent> & Pick<HandoffEvent, "event_id" | "id">): HandoffEvent {
  return {
    schema_version: 1,
    state: "handoff_initiated",
    occurred_at: "2026-11-25T10:00:00.000Z",
    data: {},
    ...fields,
  };
}

describe("handoff store keys under concurrency", () => {
  // Two consumers: two connections, so their commands really interleave in Redis.
  const redisA = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")));
  const redisB = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")));
  afterAll(async () => {
    await Promise.all([redisA.quit(), redisB.quit()]);
  });

  it("gives one conversation one handoff when its shared_id and its id arrive at once under different keys", async () => {
    const prefix = uniqueName("t");
    const storeA = createHandoffStore({ redis: redisA, prefix, retentionMs: 60_000 });
    const storeB = createHandoffStore({ redis: redisB, prefix, retentionMs: 60_000 });
    const splits: string[] = [];
    for (let round = 0; round < 200; round++) {
      const id = `c${round}`;
      const shared = `S${round}`;
      const [withShared, byIdOnly] = await Promise.all([
        storeA.apply(event({ event_id: `${id}-a`, id, shared_id: shared }), context()),
        storeB.apply(
          event({
            event_id: `${id}-b`,
            id,
            state: "handoff_completed",
            occurred_at: "2026-11-25T10:00:01.000Z",
          }),
          context(),
        ),
      ]);
      // Whichever won, both aliases lead to the one handoff that has both events.
      const key = withShared.key;
      const [byId, byShared, snapshot] = await Promise.all([
        storeA.findKey({ kind: "id", value: id }),
        storeA.findKey({ kind: "shared_id", value: shared }),
        storeA.get(key),
      ]);
      if (byIdOnly.key !== key || byId !== key || byShared !== key || snapshot?.history.length !== 2) {
        splits.push(`${id}: events went to ${key} and ${byIdOnly.key}; aliases ${byId} and ${byShared}`);
      }
      expect([withShared.conflicts, byIdOnly.conflicts]).toEqual([[], []]);
    }
    expect(splits).toEqual([]);
  });

  it("never splits three racing events of one shared_id without reporting the conflict", async () => {
    const prefix = uniqueName("t");
    const storeA = createHandoffStore({ redis: redisA, prefix, retentionMs: 60_000 });
    const storeB = createHandoffStore({ redis: redisB, prefix, retentionMs: 60_000 });
    const splits: string[] = [];
    for (let round = 0; round < 100; round++) {
      const shared = `S${round}`;
      const outcomes = await Promise.all([
        storeA.apply(event({ event_id: `${round}-1`, id: `a${round}`, shared_id: shared }), context()),
        storeB.apply(
          event({ event_id: `${round}-2`, id: `a${round}`, occurred_at: "2026-11-25T10:00:01.000Z" }),
          context(),
        ),
        storeA.apply(
          event({
            event_id: `${round}-3`,
            id: `b${round}`,
            shared_id: shared,
            occurred_at: "2026-11-25T10:00:02.000Z",
          }),
          context(),
        ),
      ]);
      // The only split a serial order allows: b joins S first, a arrives alone and becomes its own
      // handoff, then a's event with S joins S and finds a's id taken.
      const keys = new Set(outcomes.map((o) => o.key));
      const reported = outcomes.flatMap((o) => o.conflicts);
      if (
        keys.size !== 1 &&
        !(
          reported.length === 1 &&
          reported[0]?.value === `a${round}` &&
          reported[0].aliasedTo === `a${round}`
        )
      ) {
        splits.push(`${shared}: ${[...keys].join(", ")} with ${JSON.stringify(reported)}`);
      }
      const [aliasA, aliasB, aliasS] = await Promise.all([
        storeA.findKey({ kind: "id", value: `a${round}` }),
        storeA.findKey({ kind: "id", value: `b${round}` }),
        storeA.findKey({ kind: "shared_id", value: shared }),
      ]);
      if (aliasB !== aliasS || (keys.size === 1 && aliasA !== aliasS))
        splits.push(`${shared}: aliases ${aliasA} ${aliasB} ${aliasS}`);
    }
    expect(splits).toEqual([]);
  });

  it("waits out the claim of a consumer that died between claiming and committing", async () => {
    const store = createHandoffStore({
      redis: redisA,
      prefix: uniqueName("t"),
      retentionMs: 60_000,
      aliasClaimTtlMs: 400,
    });
    // What a consumer leaves behind when it dies after claiming: a claim that expires by itself.
    await redisA.set(store.keys.alias("id", "c1"), "\u0000claim\u0000dead-consumer:S", "PX", 400);
    expect(await store.findKey({ kind: "id", value: "c1" })).toBeUndefined();
    const started = Date.now();
    const applied = await store.apply(event({ event_id: "e1", id: "c1" }), context());
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(applied).toMatchObject({ key: "c1", outcome: "applied" });
    expect(await store.findKey({ kind: "id", value: "c1" })).toBe("c1");
  });

  it("reports an id already aliased to another handoff as a conflict and leaves it alone", async () => {
    const store = createHandoffStore({ redis: redisA, prefix: uniqueName("t"), retentionMs: 60_000 });
    await store.apply(event({ event_id: "e1", id: "c1" }), context());
    await store.apply(event({ event_id: "e2", id: "c2", shared_id: "S" }), context());
    const joined = await store.apply(
      event({
        event_id: "e3",
        id: "c1",
        shared_id: "S",
        state: "handoff_completed",
        occurred_at: "2026-11-25T10:00:05.000Z",
      }),
      context(),
    );
    expect(joined).toMatchObject({
      key: "S",
      conflicts: [{ kind: "id", value: "c1", aliasedTo: "c1", key: "S" }],
    });
    expect(await store.findKey({ kind: "id", value: "c1" })).toBe("c1");
  });
});

describe("handoff store lifetimes", () => {
  const redis = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")));
  afterAll(() => redis.quit());

  it("keeps every alias of a handoff as long as the handoff, not only the latest event's", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 1500 });
    // Two conversations join one handoff by its shared_id; then only the first keeps talking.
    await store.apply(event({ event_id: "e1", id: "c1", shared_id: "S" }), context());
    await store.apply(
      event({ event_id: "e2", id: "c2", shared_id: "S", occurred_at: "2026-11-25T10:00:01.000Z" }),
      context(),
    );
    await sleep(1000);
    await store.apply(
      event({
        event_id: "e3",
        id: "c1",
        shared_id: "S",
        state: "handoff_failed",
        occurred_at: "2026-11-25T10:00:02.000Z",
      }),
      context(),
    );
    await sleep(900);
    // Past c2's first retention but within the handoff's: c2 still leads to S.
    const later = await store.apply(
      event({
        event_id: "e4",
        id: "c2",
        state: "handoff_initiated",
        occurred_at: "2026-11-25T10:00:03.000Z",
      }),
      context(),
    );
    expect(later).toMatchObject({ key: "S", outcome: "applied", snapshot: { version: 4 } });
  });

  it("continues a handoff's versions after its retention, and its ledger expires with its snapshot", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 800 });
    await store.apply(event({ event_id: "e1", id: "c1", shared_id: "S" }), context());
    const second = await store.apply(
      event({
        event_id: "e2",
        id: "c1",
        shared_id: "S",
        state: "handoff_completed",
        occurred_at: "2026-11-25T10:00:01.000Z",
      }),
      context(),
    );
    await sleep(300);
    expect(
      await store.recordDelivery("S", "crm", {
        version: second.snapshot.version,
        delivered_at: new Date().toISOString(),
      }),
    ).toBe("recorded");
    const [ledgerTtl, snapshotTtl] = await Promise.all([
      redis.pttl(store.keys.ledger("S")),
      redis.pttl(store.keys.snapshot("S")),
    ]);
    expect(ledgerTtl).toBeGreaterThan(0);
    // Read a moment apart: a millisecond or two of clock between the two answers is not a longer life.
    expect(ledgerTtl).toBeLessThanOrEqual(snapshotTtl + 5);
    await sleep(900);
    expect(await store.get("S")).toBeUndefined();
    expect(await store.getDelivery("S", "crm")).toBeUndefined();
    // The shared id is reused: a new lifetime, whose versions stay above what the CRM has.
    const back = await store.apply(
      event({ event_id: "e3", id: "c9", shared_id: "S", occurred_at: "2026-11-25T11:00:00.000Z" }),
      context(),
    );
    expect(back).toMatchObject({
      key: "S",
      outcome: "applied",
      snapshot: { version: 3, history: [{ event_id: "e3" }] },
    });
  });

  it("continues a handoff's versions after an erasure, keeping nothing else of it", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
    await store.apply(
      event({ event_id: "e1", id: "c1", shared_id: "S", data: { customer_id: "cust-1" } }),
      context(),
    );
    await store.apply(
      event({
        event_id: "e2",
        id: "c1",
        shared_id: "S",
        state: "handoff_completed",
        occurred_at: "2026-11-25T10:00:01.000Z",
      }),
      context(),
    );
    await store.recordDelivery("S", "crm", {
      version: 2,
      record_id: "rec-1",
      delivered_at: new Date().toISOString(),
    });
    const erased = await store.erase("S", ["crm"]);
    expect(erased).toMatchObject({ key: "S", aliases: 2, customerIds: 1 });
    expect(await store.get("S")).toBeUndefined();
    expect(await store.getDelivery("S", "crm")).toBeUndefined();
    expect(await store.findKey({ kind: "id", value: "c1" })).toBeUndefined();
    // A delivery that finishes after the erasure leaves no ledger behind.
    expect(
      await store.recordDelivery("S", "crm", {
        version: 2,
        record_id: "rec-1",
        delivered_at: new Date().toISOString(),
      }),
    ).toBe("not_newer");
    const back = await store.apply(
      event({ event_id: "e3", id: "c1", shared_id: "S", occurred_at: "2026-11-25T12:00:00.000Z" }),
      context(),
    );
    expect(back.snapshot.version).toBe(3);
  });
});
