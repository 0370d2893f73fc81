import { describe, expect, it } from "vitest";
import { requestDeadline } from "./request-deadline.js";

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("requestDeadline", () => {
  it("aborts after the timeout and says so", async () => {
    const deadline = requestDeadline(5);
    expect(deadline.signal.aborted).toBe(false);
    await tick(30);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.timedOut()).toBe(true);
    expect((deadline.signal.reason as Error).name).toBe("TimeoutError");
  });

  it("follows the delivery's signal, with its reason, without calling it a timeout", () => {
    const outer = new AbortController();
    const deadline = requestDeadline(10_000, outer.signal);
    outer.abort("lock lost");
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toBe("lock lost");
    expect(deadline.timedOut()).toBe(false);
    deadline.dispose();
    const already = requestDeadline(10_000, outer.signal);
    expect(already.signal.aborted).toBe(true);
    already.dispose();
  });

  it("once disposed, neither the timer nor the delivery's signal aborts it", async () => {
    const outer = new AbortController();
    const deadline = requestDeadline(5, outer.signal);
    deadline.dispose();
    outer.abort();
    await tick(30);
    expect(deadline.signal.aborted).toBe(false);
    expect(deadline.timedOut()).toBe(false);
  });
});
