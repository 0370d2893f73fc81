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

describe("a retry after a write that may still land", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  afterAll(() => connection.quit());

  it("waits for the earlier write's claim even when BullMQ hands the retry to the same worker slot, lock token and all", async () => {
    const prefix = uniqueName("t");
    const store = createHandoffStore({ redis: connection, prefix, retentionMs: 60_000 });
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: { crm: { attempts: 3, base_delay_ms: 100, max_delay_ms: 200 } },
    });
    const apply = (key: string) =>
      store.apply(
        {
          schema_version: 1,
          event_id: `e-${key}`,
          id: `conv-${key}`,
          shared_id: key,
          state: "handoff_initiated",
          occurred_at: "2026-11-25T10:00:00.000Z",
          data: {},
        },
        { catalogue: createStateCatalogue({}), receivedAt: new Date().toISOString() },
      );
    const timedOut = (await apply("same-slot-timed-out")).key;
    const other = (await apply("same-slot-other")).key;
    const calls: number[] = [];
    const tokens: (string | undefined)[] = [];
    const outcomes: string[] = [];
    // The write claim lives lock/4 + timeout + settle = 500 + 300 + 1000 ms.
    const worker = createDeliveryWorker({
      queue: queues.get("crm"),
      connection,
      store,
      log,
      // One slot: when the first delivery fails, BullMQ's retry fetches the other job in the same
      // call and the slot keeps its lock token; when that one completes, the first job, due again
      // after its 50 ms backoff, comes back to the slot with the token of its first attempt.
      concurrency: 1,
      random: () => 0.5,
      lockDurationMs: 2000,
      requestTimeoutMs: 300,
      writeSettleMs: 1000,
      onAttempt: (outcome, { snapshot }) => {
        if (snapshot?.key === timedOut) outcomes.push(outcome);
      },
      deliver: async ({ snapshot, beforeWrite }) => {
        await beforeWrite();
        if (snapshot.key === other) {
          await new Promise((resolve) => setTimeout(resolve, 300));
          return { status: 200 };
        }
        calls.push(Date.now());
        // No answer: the CRM may still apply this write, as a create behind a slow gateway does.
        if (calls.length === 1) throw new RetryableDeliveryError("POST timed out after 300 ms");
        return { status: 201 };
      },
    });
    worker.on("active", (job) => {
      if ((job.data as { key?: string }).key === timedOut) tokens.push(job.token);
    });
    for (const key of [timedOut, other])
      await queues.enqueue("crm", {
        v: 1,
        key,
        version: 1,
        event_id: `e-${key}`,
        occurred_at: "2026-11-25T10:00:00.000Z",
        enqueued_at: new Date().toISOString(),
      });
    await waitFor(() => store.getDelivery(timedOut, "crm"), { timeoutMs: 15_000, message: "delivered" });
    // The retry came back with the first attempt's lock token, so that token cannot be the fence.
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    expect(tokens[1]).toBe(tokens[0]);
    expect(outcomes).toContain("returned");
    expect(calls).toHaveLength(2);
    // A lookup and create any sooner could miss the first write and create a second record.
    expect((calls[1] ?? 0) - (calls[0] ?? 0)).toBeGreaterThanOrEqual(1700);

    await worker.close();
    await queues.close();
  });
});
