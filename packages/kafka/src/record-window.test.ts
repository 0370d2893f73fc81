import { describe, expect, it } from "vitest";
import { handleInGroups } from "./record-window.js";

interface Rec {
  readonly offset: string;
}

const rec = (offset: number): Rec => ({ offset: String(offset) });
const tick = (ms = 1): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("handleInGroups", () => {
  it("hands records over in groups of `limit`, in offset order, and resolves each group after it completed", async () => {
    const records = Array.from({ length: 7 }, (_, i) => rec(i));
    const done = new Set<string>();
    const groups: string[][] = [];
    const resolved: string[] = [];
    await handleInGroups(records, {
      limit: 3,
      shouldStop: () => false,
      handleGroup: async (group) => {
        groups.push(group.map((r) => r.offset));
        await tick(3);
        for (const r of group) done.add(r.offset);
      },
      resolve: (r) => {
        expect(done.has(r.offset)).toBe(true);
        resolved.push(r.offset);
      },
    });
    expect(groups).toEqual([["0", "1", "2"], ["3", "4", "5"], ["6"]]);
    expect(resolved).toEqual(["0", "1", "2", "3", "4", "5", "6"]);
  });

  it("on a failure resolves nothing of the failed group, starts no later group, and rethrows", async () => {
    const records = Array.from({ length: 6 }, (_, i) => rec(i));
    const resolved: string[] = [];
    const handled: string[] = [];
    const failure = new Error("redis down");
    await expect(
      handleInGroups(records, {
        limit: 2,
        shouldStop: () => false,
        handleGroup: async (group) => {
          await tick();
          if (group.some((r) => r.offset === "3")) throw failure;
          handled.push(...group.map((r) => r.offset));
        },
        resolve: (r) => resolved.push(r.offset),
      }),
    ).rejects.toBe(failure);
    expect(resolved).toEqual(["0", "1"]);
    expect(handled).toEqual(["0", "1"]);
  });

  it("starts no group once told to stop, and calls afterGroup with each group's last record", async () => {
    const records = Array.from({ length: 10 }, (_, i) => rec(i));
    const lasts: string[] = [];
    const resolved: string[] = [];
    await handleInGroups(records, {
      limit: 3,
      shouldStop: () => lasts.length >= 2,
      handleGroup: () => tick(),
      resolve: (r) => resolved.push(r.offset),
      afterGroup: (last) => {
        lasts.push(last.offset);
        return Promise.resolve();
      },
    });
    expect(lasts).toEqual(["2", "5"]);
    expect(resolved).toEqual(["0", "1", "2", "3", "4", "5"]);
  });
});
