import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The CRM every bench phase posts to: keep-alive HTTP on 127.0.0.1 that answers 204 after a
 * configurable latency. It records, per distinct handoff, when the first write arrived and how
 * long after the event's `occurred_at` that was. Leaner than the fakes in packages/testing on
 * purpose: it shares the bench's CPU with the services it measures.
 */
export interface CrmFake {
  readonly url: string;
  /** Distinct handoffs received since the last reset. */
  received(): number;
  /** Requests received since the last reset, duplicates included. */
  requests(): number;
  /** Milliseconds from `occurred_at` to arrival, one per distinct handoff, since the last reset. */
  latencies(): readonly number[];
  /** Wall-clock milliseconds of the first and the latest new handoff since the last reset. */
  firstArrivalMs(): number;
  lastArrivalMs(): number;
  setLatency(ms: number): void;
  reset(): void;
  /** Resolves once `count` distinct handoffs arrived since the last reset. */
  waitFor(count: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

interface Arrival {
  readonly key: string;
  readonly occurredAtMs: number;
}

function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** Reads a webhook payload (`data.key`, `data.occurred_at`) or a raw event (`shared_id`, `occurred_at`). */
export function arrivalOf(body: string): Arrival | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const inner = field(parsed, "data");
  const source = typeof field(inner, "key") === "string" ? inner : parsed;
  const key = field(source, "key") ?? field(source, "shared_id") ?? field(source, "id");
  const occurredAt = field(source, "occurred_at");
  if (typeof key !== "string" || typeof occurredAt !== "string") return undefined;
  return { key, occurredAtMs: Date.parse(occurredAt) };
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startCrmFake(initialLatencyMs = 0): Promise<CrmFake> {
  let latencyMs = initialLatencyMs;
  let seen = new Set<string>();
  let latencies: number[] = [];
  let requestCount = 0;
  let firstArrival = 0;
  let lastArrival = 0;
  let waiters: { count: number; resolve: () => void }[] = [];

  const arrive = (arrival: Arrival | undefined, at: number): void => {
    requestCount++;
    if (arrival === undefined || seen.has(arrival.key)) return;
    seen.add(arrival.key);
    latencies.push(at - arrival.occurredAtMs);
    if (firstArrival === 0) firstArrival = at;
    lastArrival = at;
    if (waiters.length > 0) {
      const due = waiters.filter((w) => w.count <= seen.size);
      waiters = waiters.filter((w) => w.count > seen.size);
      for (const waiter of due) waiter.resolve();
    }
  };

  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    readAll(req)
      .then((body) => {
        // Arrival is when the request was read, before the simulated CRM work.
        arrive(arrivalOf(body), Date.now());
        const answer = (): void => {
          res.writeHead(204);
          res.end();
        };
        if (latencyMs > 0) setTimeout(answer, latencyMs);
        else answer();
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received: () => seen.size,
    requests: () => requestCount,
    latencies: () => latencies,
    firstArrivalMs: () => firstArrival,
    lastArrivalMs: () => lastArrival,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    reset: () => {
      seen = new Set();
      latencies = [];
      requestCount = 0;
      firstArrival = 0;
      lastArrival = 0;
    },
    waitFor: (count, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        if (seen.size >= count) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w.resolve !== done);
          reject(new Error(`CRM fake received ${seen.size} of ${count} handoffs within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push({ count, resolve: done });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
