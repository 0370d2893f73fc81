import { createRedisClient } from "./redis-client.js";
import { uniqueName, testRedisTarget } from "@handoff-sync/testing";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createHandoffStore } from "./handoff-store.js";

describe("fencing tokens per (handoff, destination)", () => {
  const redis = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")));
  afterAll(() => redis.quit());
  const entry = (version: number) => ({
    version,
    delivered_at: "2026-12-01T10:00:00.000Z",
    record_id: `r${version}`,
  });

  it("refuses the ledger write of a delivery that a later one fenced out", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
    // The ledger lives only beside a snapshot.
    await redis.hset(store.keys.snapshot("h-1"), "version", "2");
    await redis.pexpire(store.keys.snapshot("h-1"), 60_000);
    await store.takeFence("h-1", "crm", "first");
    await store.takeFence("h-1", "crm", "second");
    expect(await store.holdsFence("h-1", "crm", "first")).toBe(false);
    expect(await store.holdsFence("h-1", "crm", "second")).toBe(true);
    // The fenced-out delivery carries a newer version than the ledger, and is still refused.
    expect(await store.recordDelivery("h-1", "crm", entry(2), "first")).toBe("fenced");
    expect(await store.getDelivery("h-1", "crm")).toBeUndefined();
    expect(await store.recordDelivery("h-1", "crm", entry(1), "second")).toBe("recorded");
    expect(await store.recordDelivery("h-1", "crm", entry(1), "second")).toBe("not_newer");
    // Tokens are per destination: another destination's delivery is not fenced by this one.
    await store.takeFence("h-1", "other", "third");
    expect(await store.holdsFence("h-1", "crm", "second")).toBe(true);
    expect(await store.getDelivery("h-1", "crm")).toMatchObject({ version: 1 });
  });

  it("keeps the fence in the handoff's slot, expiring with it", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
    await store.takeFence("h-{2}", "crm", "t");
    const key = store.keys.fence("h-{2}");
    expect(key.startsWith(store.keys.ledger("h-{2}").replace(/:ledger$/, ""))).toBe(true);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it("fences out a delivery still running when the handoff is erased", async () => {
    const store = createHandoffStore({ redis, prefix: uniqueName("t"), retentionMs: 60_000 });
    await store.takeFence("h-3", "crm", "running");
    await store.erase("h-3", ["crm"]);
    expect(await store.holdsFence("h-3", "crm", "running")).toBe(false);
    expect(await store.recordDelivery("h-3", "crm", entry(1), "running")).toBe("fenced");
    expect(await store.getDelivery("h-3", "crm")).toBeUndefined();
  });
});
