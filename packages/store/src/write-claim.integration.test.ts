import { createStateCatalogue } from "@handoff-sync/schema";
import { testRedisTarget, uniqueName } from "@handoff-sync/testing";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createHandoffStore, type HandoffStore } from "./handoff-store.js";
import { createRedisClient } from "./redis-client.js";

describe("the write claim taken with the begin of a delivery", () => {
  const redis = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")));
  afterAll(() => redis.quit());

  async function handoff(): Promise<{ store: HandoffStore; key: string }> {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
    const applied = await store.apply(
      {
        schema_version: 1,
        event_id: "e1",
        id: "conv-1",
        state: "handoff_initiated",
        occurred_at: "2026-12-01T10:00:00.000Z",
        data: {},
      },
      { catalogue: createStateCatalogue({}), receivedAt: new Date().toISOString() },
    );
    return { store, key: applied.key };
  }

  it("is taken exactly when claimWrite would grant it, for as long as asked", async () => {
    const { store, key } = await handoff();
    const begun = await store.beginDelivery(key, "crm", "first", { claimWriteMs: 30_000 });
    expect(begun.fence).toEqual({ kind: "taken" });
    expect(begun.writeClaimed).toBe(true);
    expect(await redis.get(store.keys.writeClaim(key, "crm"))).toBe("first");
    const left = await redis.pttl(store.keys.writeClaim(key, "crm"));
    expect(left).toBeGreaterThan(29_000);
    expect(left).toBeLessThanOrEqual(30_000);
    // It holds the fence as a claim by claimWrite does: a later delivery waits for it.
    const later = await store.beginDelivery(key, "crm", "second", { claimWriteMs: 30_000 });
    expect(later.fence).toMatchObject({ kind: "claimed" });
    expect(later.writeClaimed).toBe(false);
    expect(await store.holdsFence(key, "crm", "first")).toBe(true);
    // Another destination has its own claim.
    expect((await store.beginDelivery(key, "other", "third", { claimWriteMs: 30_000 })).writeClaimed).toBe(
      true,
    );
  });

  it("is not taken without being asked for, nor when the ledger already has the version, nor without a snapshot", async () => {
    const { store, key } = await handoff();
    expect((await store.beginDelivery(key, "crm", "plain")).writeClaimed).toBe(false);
    expect(await redis.exists(store.keys.writeClaim(key, "crm"))).toBe(0);

    expect(
      await store.recordDelivery(
        key,
        "crm",
        { version: 1, delivered_at: "2026-12-01T10:00:01.000Z", record_id: "r1" },
        "plain",
      ),
    ).toBe("recorded");
    const delivered = await store.beginDelivery(key, "crm", "again", { claimWriteMs: 30_000 });
    expect(delivered.fence).toEqual({ kind: "taken" });
    expect(delivered.delivered).toMatchObject({ version: 1 });
    expect(delivered.writeClaimed).toBe(false);
    expect(await redis.exists(store.keys.writeClaim(key, "crm"))).toBe(0);

    const missing = await store.beginDelivery("no-such-handoff", "crm", "t", { claimWriteMs: 30_000 });
    expect(missing.snapshot).toBeUndefined();
    expect(missing.writeClaimed).toBe(false);
    expect(await redis.exists(store.keys.writeClaim("no-such-handoff", "crm"))).toBe(0);
  });
});
