import type { BatchItemOutcome } from "@handoff-sync/schema";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDeliveryBatcher, type DeliveryBatcherSettings } from "./delivery-batcher.js";

interface Req {
  readonly key: string;
  readonly batchable?: boolean;
}

function setUp(overrides: Partial<DeliveryBatcherSettings<Req, string>> = {}) {
  const batches: string[][] = [];
  const singles: string[] = [];
  const batcher = createDeliveryBatcher<Req, string>({
    maxSize: 3,
    maxWaitMs: 100,
    accepts: (request) => request.batchable !== false,
    key: (request) => request.key,
    single: (request) => {
      singles.push(request.key);
      return Promise.resolve(`single:${request.key}`);
    },
    sendBatch: (requests) => {
      batches.push(requests.map((r) => r.key));
      return Promise.resolve(
        requests.map((r): BatchItemOutcome<string> => ({ ok: true, value: `batch:${r.key}` })),
      );
    },
    ...overrides,
  });
  return { batcher, batches, singles };
}

describe("delivery batcher", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("sends a full batch at once and resolves each submitter with its own result", async () => {
    const { batcher, batches } = setUp();
    const results = Promise.all(["a", "b", "c"].map((key) => batcher.submit({ key })));
    expect(await results).toEqual(["batch:a", "batch:b", "batch:c"]);
    expect(batches).toEqual([["a", "b", "c"]]);
  });

  it("sends a partial batch after max_wait_ms, not before", async () => {
    const { batcher, batches } = setUp();
    const result = batcher.submit({ key: "a" });
    await vi.advanceTimersByTimeAsync(99);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([["a"]]);
    expect(await result).toBe("batch:a");
  });

  it("splits more deliveries than max_size into several batches", async () => {
    const { batcher, batches } = setUp();
    const results = Promise.all(["a", "b", "c", "d"].map((key) => batcher.submit({ key })));
    await vi.advanceTimersByTimeAsync(100);
    await results;
    expect(batches).toEqual([["a", "b", "c"], ["d"]]);
  });

  it("never puts two deliveries of one handoff in one batch", async () => {
    const { batcher, batches } = setUp();
    const results = Promise.all([batcher.submit({ key: "a" }), batcher.submit({ key: "a" })]);
    await vi.advanceTimersByTimeAsync(100);
    await results;
    expect(batches).toEqual([["a"], ["a"]]);
  });

  it("sends deliveries the adapter cannot batch alone, at once", async () => {
    const { batcher, batches, singles } = setUp();
    expect(await batcher.submit({ key: "x", batchable: false })).toBe("single:x");
    expect(singles).toEqual(["x"]);
    expect(batches).toEqual([]);
  });

  it("settles each item with its own outcome: one failure rejects only its submitter", async () => {
    const refused = new Error("b refused");
    const { batcher } = setUp({
      sendBatch: (requests) =>
        Promise.resolve(
          requests.map((r): BatchItemOutcome<string> =>
            r.key === "b" ? { ok: false, error: refused } : { ok: true, value: r.key },
          ),
        ),
    });
    const settled = await Promise.allSettled(["a", "b", "c"].map((key) => batcher.submit({ key })));
    expect(settled).toEqual([
      { status: "fulfilled", value: "a" },
      { status: "rejected", reason: refused },
      { status: "fulfilled", value: "c" },
    ]);
  });

  it("gives every item the error of a batch that failed as a whole", async () => {
    const timeout = new Error("timed out");
    const { batcher } = setUp({ sendBatch: () => Promise.reject(timeout) });
    const settled = await Promise.allSettled(["a", "b", "c"].map((key) => batcher.submit({ key })));
    expect(settled.map((s): unknown => (s.status === "rejected" ? s.reason : s.value))).toEqual([
      timeout,
      timeout,
      timeout,
    ]);
  });

  it("rejects items an adapter left without an outcome instead of leaving them hanging", async () => {
    const { batcher } = setUp({ sendBatch: () => Promise.resolve([{ ok: true, value: "only one" }]) });
    const settled = await Promise.allSettled(["a", "b", "c"].map((key) => batcher.submit({ key })));
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "rejected"]);
  });

  it("flush() sends what waits without waiting", async () => {
    const { batcher, batches } = setUp();
    const result = batcher.submit({ key: "a" });
    expect(batcher.waiting()).toBe(1);
    batcher.flush();
    expect(await result).toBe("batch:a");
    expect(batches).toEqual([["a"]]);
    expect(batcher.waiting()).toBe(0);
  });
});
