import { describe, expect, it } from "vitest";
import { fullestMaster, parseMemoryInfo } from "./redis-memory.js";

describe("redis memory across masters", () => {
  it("reads INFO memory", () => {
    expect(
      parseMemoryInfo("# Memory\r\nused_memory:1024\r\nmaxmemory:4096\r\nmaxmemory_policy:noeviction\r\n"),
    ).toEqual({ used: 1024, max: 4096, policy: "noeviction" });
  });

  it("reports the master closest to its limit, not the largest or the sum", () => {
    const a = { used: 900, max: 1000, policy: "noeviction" };
    const b = { used: 3000, max: 10_000, policy: "noeviction" };
    const unlimited = { used: 50_000, max: 0, policy: "noeviction" };
    expect(fullestMaster([b, a, unlimited])).toBe(a);
    expect(fullestMaster([{ used: 10, max: 0, policy: "x" }, unlimited])).toBe(unlimited);
    expect(fullestMaster([])).toEqual({ used: 0, max: 0, policy: "unknown" });
  });
});
