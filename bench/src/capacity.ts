import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createDeliveryQueues, createDeliveryWorker } from "@handoff-sync/queue";
import { createStateCatalogue, type HandoffEvent } from "@handoff-sync/schema";
import {
  createHandoffStore,
  createRedisClient,
  mastersOf,
  untilReady,
  type RedisClient,
} from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import { startRedisCluster, startRedisServer } from "@handoff-sync/testing";
import type { Redis } from "ioredis";
import { createEventSource } from "./events.js";

/**
 * Redis cost per handoff event, for docs/capacity.md: the consumer's work (apply to the store,
 * enqueue one delivery) and the worker's (load, fence, deliver to a no-op CRM, record the ledger)
 * run in this process against a private Redis, first one server, then a cluster of three masters;
 * the commands, Redis CPU and memory are read from every master's INFO before and after.
 *
 *   CAPACITY_EVENTS=3000 ./scripts/node bench/dist/capacity.js
 */
const events = Number(process.env.CAPACITY_EVENTS ?? 3000);
const concurrency = 16;
const output =
  process.env.CAPACITY_OUTPUT ?? fileURLToPath(new URL("../results/capacity.json", import.meta.url));
const log = createLogger({ level: "silent", service: "capacity" });
const catalogue = createStateCatalogue({});

interface MasterFigures {
  readonly calls: number;
  readonly byCommand: Record<string, number>;
  readonly cpuSeconds: number;
  readonly usedMemory: number;
}

async function figures(node: Redis): Promise<MasterFigures> {
  const [stats, cpu, memory] = await Promise.all([
    node.info("commandstats"),
    node.info("cpu"),
    node.info("memory"),
  ]);
  let calls = 0;
  const byCommand: Record<string, number> = {};
  for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const name = match[1] ?? "";
    if (["info", "config", "cluster", "ping", "client", "select", "hello", "command"].includes(name))
      continue;
    calls += Number(match[2]);
    byCommand[name] = (byCommand[name] ?? 0) + Number(match[2]);
  }
  const cpuOf = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(cpu)?.[1] ?? 0);
  return {
    calls,
    byCommand,
    cpuSeconds: cpuOf("used_cpu_sys") + cpuOf("used_cpu_user"),
    usedMemory: Number(/^used_memory:(\d+)/m.exec(memory)?.[1] ?? 0),
  };
}

async function measure(label: string, redis: RedisClient) {
  await untilReady(redis);
  const masters = mastersOf(redis);
  await Promise.all(masters.map((node) => node.config("RESETSTAT")));
  const before = await Promise.all(masters.map(figures));
  const prefix = `cap${Date.now().toString(36)}`;
  const store = createHandoffStore({ redis, prefix, retentionMs: 3_600_000 });
  const policy = { attempts: 3, base_delay_ms: 100, max_delay_ms: 1000 };
  const queues = createDeliveryQueues({ connection: redis, prefix, destinations: { crm: policy } });
  let delivered = 0;
  const worker = createDeliveryWorker({
    queue: queues.get("crm"),
    connection: redis,
    store,
    log,
    concurrency,
    deliver: async ({ beforeWrite, snapshot }) => {
      await beforeWrite();
      delivered++;
      return { recordId: `r-${snapshot.key}` };
    },
  });
  const source = createEventSource(label);
  let eventBytes = 0;
  const started = process.hrtime.bigint();
  let next = 0;
  // Like a consumer with `concurrency` partitions in flight: apply, then enqueue, per event.
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < events) {
        next++;
        const { key, value } = source.next();
        eventBytes += Buffer.byteLength(key) + Buffer.byteLength(value);
        // What the consumer's normaliser makes of the bench event: its fields, the rest under data.
        const raw = JSON.parse(value) as Record<string, unknown> & { data: Record<string, unknown> };
        const event: HandoffEvent = {
          schema_version: 1,
          event_id: String(raw["event_id"]),
          id: String(raw["id"]),
          shared_id: String(raw["shared_id"]),
          state: String(raw["state"]),
          occurred_at: String(raw["occurred_at"]),
          data: { ...raw.data, reason: raw["reason"], channel: raw["channel"] },
        };
        const applied = await store.apply(event, { catalogue, receivedAt: new Date().toISOString() });
        await queues.enqueue("crm", {
          v: 1,
          key: applied.key,
          version: applied.snapshot.version,
          event_id: event.event_id,
          occurred_at: event.occurred_at,
          enqueued_at: new Date().toISOString(),
        });
      }
    }),
  );
  while (delivered < events) await new Promise((r) => setTimeout(r, 20));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Completed jobs are kept an hour (job-options.ts): measured with them, then without.
  await worker.close();
  const after = await Promise.all(masters.map(figures));
  await queues.get("crm").deliver.obliterate({ force: true });
  const stored = await Promise.all(masters.map(figures));
  await queues.close();
  const perMaster = masters.map((_, i) => ({
    calls: (after[i]?.calls ?? 0) - (before[i]?.calls ?? 0),
    cpuSeconds: (after[i]?.cpuSeconds ?? 0) - (before[i]?.cpuSeconds ?? 0),
  }));
  const calls = perMaster.reduce((sum, m) => sum + m.calls, 0);
  // Commands a script ran count too (INFO commandstats counts them): the work Redis did per event.
  const byCommand: Record<string, number> = {};
  for (const figure of after)
    for (const [name, n] of Object.entries(figure.byCommand)) byCommand[name] = (byCommand[name] ?? 0) + n;
  const topCommands = Object.fromEntries(
    Object.entries(byCommand)
      .sort(([, a], [, b]) => b - a)
      .slice(0, 10)
      .map(([name, n]) => [name, Number((n / events).toFixed(1))]),
  );
  const cpu = perMaster.reduce((sum, m) => sum + m.cpuSeconds, 0);
  const memory = (list: MasterFigures[]) =>
    list.reduce((sum, m) => sum + m.usedMemory, 0) - before.reduce((sum, m) => sum + m.usedMemory, 0);
  return {
    label,
    masters: masters.length,
    events,
    seconds: Number(seconds.toFixed(2)),
    eventsPerSecond: Math.round(events / seconds),
    commandsPerEvent: Number((calls / events).toFixed(1)),
    redisCpuMicrosPerEvent: Math.round((cpu / events) * 1e6),
    topCommandsPerEvent: topCommands,
    busiestMasterShare: Number((Math.max(...perMaster.map((m) => m.calls)) / calls).toFixed(3)),
    commandShares: perMaster.map((m) => Number((m.calls / calls).toFixed(3))),
    bytesPerHandoffWithCompletedJob: Math.round(memory(after) / events),
    bytesPerStoredHandoff: Math.round(memory(stored) / events),
    kafkaValueAndKeyBytesPerEvent: Math.round(eventBytes / events),
  };
}

const single = await startRedisServer(["--maxmemory-policy", "noeviction"]);
const cluster = await startRedisCluster({ replicasPerMaster: 0 });
try {
  const one = createRedisClient({ mode: "single", url: single.url }, { maxRetriesPerRequest: null });
  const first = await measure("one-master", one);
  await one.quit();
  const seed = new URL(cluster.url);
  const three = createRedisClient(
    { mode: "cluster", nodes: [{ host: seed.hostname, port: Number(seed.port) }] },
    { maxRetriesPerRequest: null },
  );
  const second = await measure("three-masters", three);
  await three.quit();
  const result = {
    measuredAt: new Date().toISOString(),
    note: "one Node process drives Redis; on a 2-core machine shared with other work, throughput is client-bound",
    runs: [first, second],
    ratios: {
      throughputThreeToOne: Number((second.eventsPerSecond / first.eventsPerSecond).toFixed(2)),
      commandsPerEventThreeToOne: Number((second.commandsPerEvent / first.commandsPerEvent).toFixed(2)),
      busiestMasterLoadThreeToOne: Number(
        ((second.busiestMasterShare * second.commandsPerEvent) / first.commandsPerEvent).toFixed(2),
      ),
    },
  };
  await mkdir(dirname(output), { recursive: true });
  await writeFile(output, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await cluster.stop();
  await single.stop();
}
process.exit(0);
