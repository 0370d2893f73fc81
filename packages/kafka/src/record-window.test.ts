import { describe, expect, it } from "vitest";
import { handleInWindow } from "./record-window.js";

interface Rec {
  readonly key: Buffer | null;
  readonly offset: string;
}

const rec = (offset: number, key: string | null): Rec => ({
  offset: String(offset),
  key: key === null ? null : Buffer.from(key),
});
const tick = (ms = 1): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("handleInWindow", () => {
  it("resolves offsets in order, each only after it and every earlier record completed", async () => {
    const records = [rec(0, "a"), rec(1, "b"), rec(2, "c"), rec(3, "d")];
    const done = new Set<string>();
    const resolved: string[] = [];
    await handleInWindow(records, {
      limit: 4,
      shouldStop: () => false,
      // Later records finish first.
      handle: async (r) => {
        await tick(10 - Number(r.offset) * 2);
        done.add(r.offset);
      },
      resolve: (r) => {
        for (let o = 0; o <= Number(r.offset); o++) expect(done.has(String(o))).toBe(true);
        resolved.push(r.offset);
      },
    });
    expect(resolved).toEqual(["0", "1", "2", "3"]);
  });

  it("runs records of one key one after another and different keys at once", async () => {
    const records = [rec(0, "a"), rec(1, "b"), rec(2, "a"), rec(3, null), rec(4, "a")];
    let active = 0;
    let maxActive = 0;
    const activeKeys = new Set<string>();
    const order: string[] = [];
    await handleInWindow(records, {
      limit: 8,
      shouldStop: () => false,
      handle: async (r) => {
        const key = r.key?.toString() ?? `null-${r.offset}`;
        expect(activeKeys.has(key)).toBe(false);
        activeKeys.add(key);
        active++;
        maxActive = Math.max(maxActive, active);
        await tick(3);
        if (key === "a") order.push(r.offset);
        active--;
        activeKeys.delete(key);
      },
      resolve: () => undefined,
    });
    expect(order).toEqual(["0", "2", "4"]);
    expect(maxActive).toBeGreaterThan(1);
  });

  it("on a failure resolves only the completed prefix, skips later records of that key, and rethrows", async () => {
    const records = [rec(0, "a"), rec(1, "b"), rec(2, "c"), rec(3, "b"), rec(4, "d")];
    const handled: string[] = [];
    const resolved: string[] = [];
    const failure = new Error("redis down");
    await expect(
      handleInWindow(records, {
        limit: 5,
        shouldStop: () => false,
        handle: async (r) => {
          await tick();
          if (r.offset === "1") throw failure;
          handled.push(r.offset);
        },
        resolve: (r) => resolved.push(r.offset),
      }),
    ).rejects.toBe(failure);
    expect(resolved).toEqual(["0"]);
    expect(handled).not.toContain("3");
  });

  it("handles groups of `limit` and starts no group once told to stop", async () => {
    const records = Array.from({ length: 10 }, (_, i) => rec(i, `k${i}`));
    let active = 0;
    let maxActive = 0;
    let groups = 0;
    const resolved: string[] = [];
    await handleInWindow(records, {
      limit: 3,
      shouldStop: () => groups >= 2,
      handle: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await tick();
        active--;
      },
      resolve: (r) => resolved.push(r.offset),
      afterGroup: () => {
        groups++;
        return Promise.resolve();
      },
    });
    expect(maxActive).toBe(3);
    expect(resolved).toEqual(["0", "1", "2", "3", "4", "5"]);
  });
});
