import { createServer, type Server } from "node:http";
import { createStateCatalogue, RetryableDeliveryError, type HandoffEvent } from "@handoff-sync/schema";
import { createHandoffStore, createRedisClient } from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import { uniqueName, waitFor, testRedisTarget } from "@handoff-sync/testing";
import { afterAll, describe, expect, inject, it } from "vitest";
import { listDeadLetters } from "./dead-letters.js";
import { createDeliveryQueues } from "./delivery-queues.js";
import { createDeliveryWorker } from "./delivery-worker.js";

const log = createLogger({ level: "silent", service: "test" });

function failingReceiver(): Promise<{ server: Server; url: string; arrivals: number[] }> {
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    arrivals.push(Date.now());
    req.resume();
    res.writeHead(503, { "content-type": "text/plain" }).end("upstream unavailable");
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      resolve({ server, url: `http://127.0.0.1:${port}/`, arrivals });
    }),
  );
}

describe("delivery worker against a receiver that keeps failing", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  afterAll(() => connection.quit());

  it("spaces attempts within the backoff bounds, then dead-letters with the last error", async () => {
    const prefix = uniqueName("t");
    const policy = { attempts: 4, base_delay_ms: 300, max_delay_ms: 1000 };
    const store = createHandoffStore({ redis: connection, prefix, retentionMs: 60_000 });
    const queues = createDeliveryQueues({ connection, prefix, destinations: { crm: policy } });
    const receiver = await failingReceiver();
    const event: HandoffEvent = {
      schema_version: 1,
      event_id: "e1",
      id: "conv-1",
      shared_id: "acme-1",
      state: "handoff_initiated",
      occurred_at: "2026-11-25T10:00:00.000Z",
      data: { customer_id: "1" },
    };
    const applied = await store.apply(event, {
      catalogue: createStateCatalogue({}),
      receivedAt: new Date().toISOString(),
    });
    // random() = 1 puts every delay at its upper bound: min(cap, base * 2^(n-1)).
    const worker = createDeliveryWorker({
      queue: queues.get("crm"),
      connection,
      store,
      log,
      concurrency: 1,
      random: () => 1,
      deliver: async ({ signal }) => {
        const response = await fetch(receiver.url, { method: "POST", body: "{}", signal });
        const text = await response.text();
        throw new RetryableDeliveryError(`HTTP ${response.status}`, {
          status: response.status,
          responseExcerpt: text,
        });
      },
    });
    await queues.enqueue("crm", {
      v: 1,
      key: applied.key,
      version: applied.snapshot.version,
      event_id: "e1",
      occurred_at: event.occurred_at,
      enqueued_at: new Date().toISOString(),
    });

    const dead = await waitFor(async () => (await listDeadLetters(queues.get("crm").dead)).entries[0], {
      timeoutMs: 30_000,
      message: "dead letter",
    });
    expect(receiver.arrivals).toHaveLength(4);
    const gaps = receiver.arrivals.slice(1).map((t, i) => t - (receiver.arrivals[i] ?? t));
    const expected = [300, 600, 1000];
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual((expected[i] ?? 0) - 20);
      expect(gap).toBeLessThan((expected[i] ?? 0) + 1500);
    });
    expect(dead).toMatchObject({
      key: "acme-1",
      destination: "crm",
      version: 1,
      reason: "exhausted",
      error: "HTTP 503",
    });
    expect(dead.attempts).toHaveLength(4);
    expect(dead.attempts.at(-1)).toMatchObject({
      attempt: 4,
      status: 503,
      response_excerpt: "upstream unavailable",
    });

    await worker.close();
    await queues.close();
    receiver.server.close();
  });
});
