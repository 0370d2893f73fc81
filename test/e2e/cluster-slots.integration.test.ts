import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import {
  createDeliveryQueues,
  createDeliveryWorker,
  inspectQueue,
  listDeadLetters,
  parkDestination,
  pruneDeadLetters,
  replayDeadLetters,
  resumeDestination,
  sweepStalledJobs,
} from "@handoff-sync/queue";
import { createStateCatalogue, PermanentDeliveryError, type HandoffEvent } from "@handoff-sync/schema";
import {
  createEnrichmentCache,
  createHandoffStore,
  createRedisClient,
  slotOf,
  type RedisClient,
} from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import {
  startRedisServer,
  testRedisTarget,
  uniqueName,
  waitFor,
  type PrivateRedis,
} from "@handoff-sync/testing";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const log = createLogger({ level: "silent", service: "test" });
const catalogue = createStateCatalogue({});

/** Identifiers that try to break a hash tag: braces, the escape character, multibyte text. */
const trickyId = fc.stringMatching(/^[a-z0-9{}%:é中 -]{1,12}$/).filter((s) => s.trim() !== "");

/**
 * Everything the services do to Redis for a set of handoffs: apply with aliases (and a conflict),
 * deliver, fence, record, dead-letter, replay, park, resume, sweep, prune, enrich, erase.
 */
async function exercise(redis: RedisClient, prefix: string, ids: readonly string[]): Promise<void> {
  // On a single Redis an apply takes its two-script shortcut across slots (decision 0060); here the
  // single Redis receives what a cluster deployment sends.
  const store = createHandoffStore({ redis, prefix, retentionMs: 60_000, crossSlotScripts: false });
  const cache = createEnrichmentCache({ redis, prefix, retentionMs: 60_000 });
  const policy = { attempts: 2, base_delay_ms: 50, max_delay_ms: 100 };
  const destinations = { crm: policy, "crm-eu": policy };
  const queues = createDeliveryQueues({ connection: redis, prefix, destinations });
  const delivered = new Set<string>();
  const workers = queues.all().map((queue) =>
    createDeliveryWorker({
      queue,
      connection: redis,
      store,
      log,
      concurrency: 2,
      deliver: async ({ snapshot, destination, beforeWrite }) => {
        await beforeWrite();
        // Every third handoff is refused by the eu CRM: a dead letter to replay.
        if (destination === "crm-eu" && ids.indexOf(snapshot.key) % 3 === 0 && snapshot.version < 3)
          throw new PermanentDeliveryError("refused");
        delivered.add(`${destination}/${snapshot.key}/${snapshot.version}`);
        return { recordId: `r-${snapshot.version}` };
      },
    }),
  );
  try {
    let n = 0;
    for (const id of ids) {
      const events: HandoffEvent[] = [
        { id: `c-${id}`, shared_id: id, state: "handoff_initiated", at: "2026-11-25T10:00:00.000Z" },
        { id: `c-${id}`, state: "handoff_failed", at: "2026-11-25T10:01:00.000Z" },
        { id: `c2-${id}`, shared_id: id, state: "handoff_initiated", at: "2026-11-25T10:02:00.000Z" },
      ].map((e) => ({
        schema_version: 1,
        event_id: `e${n++}`,
        id: e.id,
        ...(e.shared_id === undefined ? {} : { shared_id: e.shared_id }),
        state: e.state,
        occurred_at: e.at,
        data: { customer_id: `cust-${id}` },
      }));
      for (const event of events) {
        const applied = await store.apply(event, { catalogue, receivedAt: new Date().toISOString() });
        for (const destination of Object.keys(destinations))
          await queues.enqueue(destination, {
            v: 1,
            key: applied.key,
            version: applied.snapshot.version,
            event_id: event.event_id,
            occurred_at: event.occurred_at,
            enqueued_at: new Date().toISOString(),
          });
      }
      await cache.set(id, 3, { tier: "gold" });
      await cache.get(id, 3);
      await store.findKey({ kind: "id", value: `c2-${id}` });
      await store.getDeliveries(id);
      await store.getAttempts(id, "crm");
    }
    const eu = queues.get("crm-eu");
    const refused = ids.filter((_, i) => i % 3 === 0).length;
    await waitFor(async () => (await listDeadLetters(eu.dead)).entries.length >= refused, {
      timeoutMs: 30_000,
      message: "dead letters of the refused handoffs",
    });
    await parkDestination(eu, eu.state, { reason: "test", admin_hint: "none", by: "test" }, log);
    await resumeDestination(eu, eu.state, log, "test");
    await replayDeadLetters(eu, store, { filter: {} }, { dryRun: false });
    await waitFor(() => ids.every((id) => delivered.has(`crm/${id}/3`) && delivered.has(`crm-eu/${id}/3`)), {
      timeoutMs: 30_000,
      message: "every handoff's latest version delivered to both CRMs",
    });
    for (const queue of queues.all()) {
      await sweepStalledJobs(queue, store, log);
      await pruneDeadLetters(queue, 0, log);
      await inspectQueue(queue);
    }
    await store.keysCreatedBetween(0, Date.now() + 1000);
    for (const id of ids) {
      await store.keysOfCustomer(`cust-${id}`);
      await store.erase(id, Object.keys(destinations));
    }
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await queues.close();
  }
}

// MONITOR escapes a byte it cannot print as \xHH and quotes each argument.
function parseMonitorArgs(line: string): Buffer[] {
  const args: Buffer[] = [];
  for (const match of line.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    const bytes: number[] = [];
    const text = match[1] ?? "";
    for (let i = 0; i < text.length; i++) {
      const c = text[i] ?? "";
      if (c !== "\\") {
        bytes.push(...Buffer.from(c, "latin1"));
        continue;
      }
      const next = text[++i] ?? "";
      if (next === "x") {
        bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
        i += 2;
      } else
        bytes.push(
          ({ n: 10, r: 13, t: 9, a: 7, b: 8 } as Record<string, number>)[next] ?? next.charCodeAt(0),
        );
    }
    args.push(Buffer.from(bytes));
  }
  return args;
}

interface Operation {
  readonly what: string;
  readonly keys: Buffer[];
}

describe("Redis Cluster: every command and transaction is single-slot", () => {
  let server: PrivateRedis;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server?.stop());

  it("for any handoff id, every command, script and transaction the services send to a cluster touches one slot", async () => {
    const monitor = spawn("redis-cli", ["-p", String(server.port), "monitor"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const lines: string[] = [];
    createInterface({ input: monitor.stdout }).on("line", (line) => lines.push(line));
    await waitFor(() => lines.length > 0 || undefined, { message: "monitor attached" }).catch(
      () => undefined,
    );
    const redis = new Redis(server.url, { maxRetriesPerRequest: null });
    const samples = fc.sample(fc.uniqueArray(trickyId, { minLength: 4, maxLength: 6 }), {
      numRuns: 3,
      seed: 12,
    });
    for (const ids of samples) await exercise(redis, uniqueName("slots"), ids);
    await new Promise((r) => setTimeout(r, 300));
    monitor.kill();
    await redis.quit();

    // Group what one slot must hold: a command; a script with the commands it ran; a transaction.
    const operations: Operation[] = [];
    const getKeys = new Redis(server.url);
    const keysOf = async (args: Buffer[]): Promise<Buffer[]> => {
      try {
        return (await getKeys.callBuffer("COMMAND", "GETKEYS", ...args)) as Buffer[];
      } catch {
        return []; // no key arguments (PING, INFO, CLIENT, ...)
      }
    };
    const transactions = new Map<string, Operation>();
    let script: Operation | undefined;
    for (const line of lines) {
      const source = /^\S+ \[\d+ ([^\]]+)\] /.exec(line)?.[1];
      if (source === undefined) continue;
      const args = parseMonitorArgs(line);
      const name = args[0]?.toString("latin1").toLowerCase() ?? "";
      if (name === "monitor") continue;
      const keys = await keysOf(args);
      if (source === "lua") {
        script?.keys.push(...keys);
        continue;
      }
      script = undefined;
      if (name === "multi") {
        transactions.set(source, { what: "MULTI", keys: [] });
        continue;
      }
      const open = transactions.get(source);
      if (name === "exec" || name === "discard") {
        if (open !== undefined) operations.push(open);
        transactions.delete(source);
        continue;
      }
      if (open !== undefined) {
        open.keys.push(...keys);
        continue;
      }
      const operation = { what: name.toUpperCase(), keys };
      if (name.startsWith("eval") || name.startsWith("fcall")) script = operation;
      operations.push(operation);
    }
    getKeys.disconnect();

    const multiKey = operations.filter((op) => op.keys.length > 1);
    const crossSlot = multiKey.filter((op) => new Set(op.keys.map((k) => slotOf(k))).size > 1);
    console.log(
      `slots: ${operations.length} operations, ${multiKey.length} multi-key (scripts with the keys they touched, transactions), ${crossSlot.length} cross-slot`,
    );
    expect(operations.filter((op) => op.what.startsWith("EVAL")).length).toBeGreaterThan(100);
    expect(multiKey.length).toBeGreaterThan(100);
    expect(crossSlot.map((op) => `${op.what} ${op.keys.map((k) => k.toString("utf8")).join(" ")}`)).toEqual(
      [],
    );
  });

  it("runs the same operations on the test run's Redis, a real cluster with REDIS_CLUSTER=1", async () => {
    const cluster = inject("redisCluster");
    const redis = createRedisClient(testRedisTarget(inject("redisUrl"), cluster), {
      maxRetriesPerRequest: null,
    });
    try {
      await exercise(redis, uniqueName("slots"), ["a{b", "}c", "中%7B", "plain", "x y"]);
    } finally {
      await redis.quit();
    }
  });
});
