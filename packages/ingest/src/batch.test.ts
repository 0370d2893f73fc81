import type { DeliveryJob } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { inKeyOrder, newestJobs } from "./ingest.js";

const tick = (ms = 1): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const job = (key: string, version: number): DeliveryJob => ({
  v: 1,
  key,
  version,
  event_id: `${key}-${version}`,
  occurred_at: "2026-11-25T10:00:00.000Z",
  enqueued_at: "2026-11-25T10:00:00.000Z",
});

describe("inKeyOrder", () => {
  const rec = (offset: number, key: string | null) => ({
    offset: String(offset),
    key: key === null ? null : Buffer.from(key),
  });

  it("runs items of one key one after another in the order given, different keys at once", async () => {
    const records = [rec(0, "a"), rec(1, "b"), rec(2, "a"), rec(3, null), rec(4, "a")];
    let active = 0;
    let maxActive = 0;
    const activeKeys = new Set<string>();
    const order: string[] = [];
    const results = await inKeyOrder(records, async (r) => {
      const key = r.key?.toString() ?? `null-${r.offset}`;
      expect(activeKeys.has(key)).toBe(false);
      activeKeys.add(key);
      active++;
      maxActive = Math.max(maxActive, active);
      // Earlier records take longer, so order only holds where it is enforced.
      await tick(8 - Number(r.offset));
      if (key === "a") order.push(r.offset);
      active--;
      activeKeys.delete(key);
      return r.offset;
    });
    expect(order).toEqual(["0", "2", "4"]);
    expect(maxActive).toBeGreaterThan(1);
    expect(results).toEqual(["0", "1", "2", "3", "4"]);
  });

  it("waits for every item, skips later items of a failed key, and throws the first failure in order", async () => {
    const records = [rec(0, "a"), rec(1, "b"), rec(2, "c"), rec(3, "b"), rec(4, "d")];
    const handled: string[] = [];
    const first = new Error("redis down");
    await expect(
      inKeyOrder(records, async (r) => {
        await tick(r.offset === "4" ? 10 : 1);
        if (r.offset === "1") throw first;
        if (r.offset === "2") throw new Error("later failure");
        handled.push(r.offset);
      }),
    ).rejects.toBe(first);
    // Offset 4 ran to its end before the failure was reported: nothing is left running.
    expect(handled.sort()).toEqual(["0", "4"]);
  });
});

describe("newestJobs", () => {
  it("keeps the newest job per handoff and destination, destinations apart", () => {
    const newest = newestJobs([
      { destination: "crm", job: job("a", 1) },
      { destination: "crm", job: job("b", 1) },
      { destination: "hook", job: job("a", 1) },
      { destination: "crm", job: job("a", 3) },
      // A stale event's job names the current version, which may be below one seen before.
      { destination: "crm", job: job("a", 2) },
    ]);
    expect([...newest.keys()]).toEqual(["crm", "hook"]);
    expect(newest.get("crm")?.map((j) => `${j.key}.v${j.version}`)).toEqual(["a.v3", "b.v1"]);
    expect(newest.get("hook")?.map((j) => `${j.key}.v${j.version}`)).toEqual(["a.v1"]);
  });
});
