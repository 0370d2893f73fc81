import type { Adapter } from "@handoff-sync/adapters";
import type { DeliverRequest } from "@handoff-sync/queue";
import { describe, expect, it } from "vitest";
import { deliveryPath, JOBS_PER_REQUEST_SLOT } from "./batched-deliver.js";

/** An adapter whose requests stay open until the test answers them, counting those in flight. */
function heldAdapter() {
  let inFlight = 0;
  let most = 0;
  const open: (() => void)[] = [];
  const adapter: Adapter = {
    type: "held",
    async deliver() {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => open.push(resolve));
      inFlight--;
      return { status: 204 };
    },
    close: () => Promise.resolve(),
  };
  return {
    adapter,
    most: () => most,
    inFlight: () => inFlight,
    answerAll: () => open.splice(0).forEach((answer) => answer()),
  };
}

const request = (n: number, signal: AbortSignal): DeliverRequest =>
  ({
    snapshot: { key: `h-${n}`, version: 1 },
    destination: "hook",
    signal,
    beforeWrite: () => Promise.resolve(),
    sendGuard: () => undefined,
  }) as unknown as DeliverRequest;

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("an unbatched destination's delivery path", () => {
  it("runs twice its concurrency in jobs while the CRM sees at most its concurrency in requests", async () => {
    const held = heldAdapter();
    const path = deliveryPath(held.adapter, { concurrency: 3 });
    expect(path.concurrency).toBe(3 * JOBS_PER_REQUEST_SLOT);
    const signal = new AbortController().signal;
    const deliveries = Array.from({ length: path.concurrency }, (_, n) => path.deliver(request(n, signal)));
    await settle();
    expect(held.inFlight()).toBe(3);
    held.answerAll();
    await settle();
    // The waiting half took the freed slots, in the order they came.
    expect(held.inFlight()).toBe(3);
    held.answerAll();
    await expect(Promise.all(deliveries)).resolves.toHaveLength(6);
    expect(held.most()).toBe(3);
  });

  it("lets a delivery aborted while it waits (shutdown, a lost lock) leave without taking a slot", async () => {
    const held = heldAdapter();
    const path = deliveryPath(held.adapter, { concurrency: 1 });
    const running = path.deliver(request(1, new AbortController().signal));
    const stopped = new AbortController();
    const waiting = path.deliver(request(2, stopped.signal));
    const after = path.deliver(request(3, new AbortController().signal));
    await settle();
    stopped.abort("lock lost");
    await expect(waiting).rejects.toMatchObject({ name: "RequestSlotAbortedError", cause: "lock lost" });
    held.answerAll();
    await settle();
    // The slot went to the next waiter; the aborted one never reached the CRM.
    expect(held.inFlight()).toBe(1);
    held.answerAll();
    await Promise.all([running, after]);
    expect(held.most()).toBe(1);
  });
});
