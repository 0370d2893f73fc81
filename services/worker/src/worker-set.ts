import type { Logger } from "@handoff-sync/telemetry";
import type { Worker } from "bullmq";
import { drainWorkers } from "./drain.js";

/** One destination's delivery worker and the adapter it delivers through. */
export interface Served {
  readonly worker: Worker;
  readonly adapter: { close(): Promise<void> };
}

interface Entry extends Served {
  /** The destination's settings as loaded (secrets resolved): a change, a rotated secret included, means a new adapter. */
  readonly fingerprint: string;
}

export interface WorkerSet<D> {
  /** Starts, replaces or retires workers so that exactly these destinations are served. */
  apply(destinations: Readonly<Record<string, D>>): { added: string[]; changed: string[]; removed: string[] };
  names(): string[];
  workers(): Worker[];
  /** Shutdown: drains current and retiring workers within the timeout, then closes their adapters. */
  drain(timeoutMs: number): Promise<"drained" | "cancelled">;
}

/**
 * The destinations a worker process serves, reconfigurable while it runs. A removed destination's
 * worker stops taking jobs and closes once its active ones finish; a changed one gets a new
 * worker and adapter first, and the old pair is retired the same way, so no delivery is cut off
 * and the queue is never unserved. Both may briefly run side by side: jobs are merged per
 * (handoff, destination), so that never puts two deliveries of one handoff in flight.
 */
export function createWorkerSet<D>(
  start: (name: string, destination: D) => Served,
  log: Logger,
): WorkerSet<D> {
  const running = new Map<string, Entry>();
  const retiring = new Map<Entry, Promise<void>>();

  const retire = (name: string, entry: Entry): void => {
    const done = entry.worker
      .close()
      .then(() => entry.adapter.close())
      .then(
        () => log.info({ destination: name }, "retired worker closed after its active jobs"),
        (error: unknown) => log.error({ destination: name, err: error }, "closing a retired worker failed"),
      )
      .finally(() => retiring.delete(entry));
    retiring.set(entry, done);
  };

  return {
    apply(destinations) {
      const added: string[] = [];
      const changed: string[] = [];
      const removed: string[] = [];
      for (const [name, entry] of running) {
        if (Object.hasOwn(destinations, name)) continue;
        running.delete(name);
        retire(name, entry);
        removed.push(name);
      }
      for (const [name, destination] of Object.entries(destinations)) {
        const fingerprint = JSON.stringify(destination);
        const existing = running.get(name);
        if (existing?.fingerprint === fingerprint) continue;
        running.set(name, { ...start(name, destination), fingerprint });
        if (existing) {
          retire(name, existing);
          changed.push(name);
        } else {
          added.push(name);
        }
      }
      return { added, changed, removed };
    },
    names: () => [...running.keys()],
    workers: () => [...running.values()].map((entry) => entry.worker),
    async drain(timeoutMs) {
      const entries = [...running.values(), ...retiring.keys()];
      const result = await drainWorkers(
        entries.map((entry) => entry.worker),
        timeoutMs,
      );
      await Promise.all([...running.values()].map((entry) => entry.adapter.close()));
      await Promise.all(retiring.values());
      return result;
    },
  };
}
