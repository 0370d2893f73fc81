import { describe, expect, it } from "vitest";
import { createRequestSlots } from "./request-slots.js";

describe("request slots", () => {
  it("grants at most its size, then hands each released slot to the oldest waiter", async () => {
    const slots = createRequestSlots(2);
    const first = await slots.acquire();
    await slots.acquire();
    const order: number[] = [];
    const third = slots.acquire().then((release) => (order.push(3), release));
    const fourth = slots.acquire().then((release) => (order.push(4), release));
    await Promise.resolve();
    expect(slots.inUse()).toBe(2);
    expect(order).toEqual([]);
    first();
    first(); // A second release of the same slot frees nothing more.
    (await third)();
    await fourth;
    expect(order).toEqual([3, 4]);
    expect(slots.inUse()).toBe(2);
  });

  it("refuses an already aborted signal and drops a waiter whose signal aborts", async () => {
    const slots = createRequestSlots(1);
    await expect(slots.acquire(AbortSignal.abort("stopped"))).rejects.toMatchObject({
      name: "RequestSlotAbortedError",
      cause: "stopped",
    });
    const release = await slots.acquire();
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);
    controller.abort("shutdown");
    await expect(waiting).rejects.toMatchObject({ name: "RequestSlotAbortedError", cause: "shutdown" });
    release();
    expect(slots.inUse()).toBe(0);
  });

  it("needs a positive whole number of slots", () => {
    expect(() => createRequestSlots(0)).toThrow(RangeError);
  });
});
