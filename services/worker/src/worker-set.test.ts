import type { Logger } from "@handoff-sync/telemetry";
import type { Worker } from "bullmq";
import { describe, expect, it } from "vitest";
import { createWorkerSet, type Served } from "./worker-set.js";

interface Fake extends Served {
  readonly name: string;
  readonly url: string;
  readonly events: string[];
  finishActive(): void;
}

const silent = { info: () => undefined, error: () => undefined } as unknown as Logger;

function fakeStarter(events: string[]) {
  const started: Fake[] = [];
  const start = (name: string, destination: { url: string }): Served => {
    let finish: () => void = () => undefined;
    const active = new Promise<void>((resolve) => (finish = resolve));
    const worker = {
      // Like BullMQ: close() resolves once the active jobs have finished.
      close: async () => {
        events.push(`close worker ${name} ${destination.url}`);
        await active;
      },
      isRunning: () => true,
      cancelAllJobs: () => finish(),
    } as unknown as Worker;
    const fake: Fake = {
      name,
      url: destination.url,
      events,
      worker,
      adapter: {
        close: () => {
          events.push(`close adapter ${name} ${destination.url}`);
          return Promise.resolve();
        },
      },
      finishActive: () => finish(),
    };
    started.push(fake);
    return fake;
  };
  return { start, started };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("worker set", () => {
  it("adds, replaces changed and retires removed destinations, closing adapters only after their active jobs", async () => {
    const events: string[] = [];
    const { start, started } = fakeStarter(events);
    const set = createWorkerSet(start, silent);
    expect(set.apply({ a: { url: "1" }, b: { url: "1" } })).toEqual({
      added: ["a", "b"],
      changed: [],
      removed: [],
    });
    expect(set.apply({ a: { url: "1" }, b: { url: "1" } })).toEqual({ added: [], changed: [], removed: [] });

    expect(set.apply({ a: { url: "2" }, c: { url: "1" } })).toEqual({
      added: ["c"],
      changed: ["a"],
      removed: ["b"],
    });
    expect(set.names().sort()).toEqual(["a", "c"]);
    expect(set.workers()).toHaveLength(2);
    await tick();
    // Both old workers stopped taking jobs, but their adapters stay open while jobs are active.
    expect(events).toEqual(["close worker b 1", "close worker a 1"]);
    started.find((f) => f.name === "a" && f.url === "1")?.finishActive();
    started.find((f) => f.name === "b")?.finishActive();
    await tick();
    expect(events).toContain("close adapter a 1");
    expect(events).toContain("close adapter b 1");
    expect(events).not.toContain("close adapter a 2");
  });

  it("drains current and retiring workers on shutdown", async () => {
    const events: string[] = [];
    const { start } = fakeStarter(events);
    const set = createWorkerSet(start, silent);
    set.apply({ a: { url: "1" } });
    set.apply({ a: { url: "2" } });
    // Nothing finishes by itself: the drain times out and cancels the active jobs.
    expect(await set.drain(20)).toBe("cancelled");
    expect(events).toEqual(expect.arrayContaining(["close adapter a 1", "close adapter a 2"]));
  });
});
