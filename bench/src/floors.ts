import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createDeliveryQueues, destinationQueueNames } from "@handoff-sync/queue";
import { BackoffPolicySchema, type DeliveryJob } from "@handoff-sync/schema";
import { SERVICE_MALLOC_ARENA_MAX, SERVICE_NODE_OPTIONS, uniqueName } from "@handoff-sync/testing";
import { Redis } from "ioredis";
import type { CrmFake } from "./crm-fake.js";
import { cpuSeconds } from "./proc.js";

/**
 * What the parts every delivery must pass through cost alone, CPU seconds per 1,000, each measured
 * on its own as the pipeline runs it: the pipeline's consumer and worker cannot cost less than
 * their sum as long as each event becomes one BullMQ job and one CRM request.
 */
export interface Floors {
  /** kafkajs `eachBatch` over a preloaded topic, nothing done per record (the bench process). */
  readonly kafkajsConsume: number;
  /** `enqueueBulk` of delivery jobs in batches, with the pipeline's job options (the bench process). */
  readonly bullmqAdd: number;
  /** A no-op BullMQ worker with the delivery worker's options draining them (a process of its own). */
  readonly bullmqWorker: number;
  /** Keep-alive POSTs of a webhook-sized body to the CRM fake (a process of its own). */
  readonly httpClient: number;
  /** The four together: the least the consumer and the worker can cost per 1,000 events. */
  readonly total: number;
}

// The built file, also when this module runs from source (the smoke test): children run plain Node.
const CHILD = fileURLToPath(new URL("../dist/floor-child.js", import.meta.url));

interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  /** Resolves on the next line the child prints that equals `line`. */
  untilLine(line: string, timeoutMs: number): Promise<void>;
}

function startChild(args: readonly string[]): Child {
  const child = spawn(process.execPath, [CHILD, ...args], {
    // The heap settings the services run with (decision 0021), so the floor is measured as they run.
    env: { ...process.env, MALLOC_ARENA_MAX: SERVICE_MALLOC_ARENA_MAX, NODE_OPTIONS: SERVICE_NODE_OPTIONS },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  let errors = "";
  child.stderr.on("data", (chunk: Buffer) => (errors += chunk.toString()));
  const waiters: { line: string; resolve: () => void }[] = [];
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    let newline = output.indexOf("\n");
    while (newline >= 0) {
      const line = output.slice(0, newline).trim();
      output = output.slice(newline + 1);
      const index = waiters.findIndex((w) => w.line === line);
      if (index >= 0) waiters.splice(index, 1)[0]?.resolve();
      newline = output.indexOf("\n");
    }
  });
  return {
    process: child,
    untilLine: (line, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`floor child (${args[0] ?? ""}) did not print ${line}: ${errors.slice(-500)}`)),
          timeoutMs,
        );
        const onExit = (code: number | null): void => {
          clearTimeout(timer);
          reject(new Error(`floor child (${args[0] ?? ""}) exited ${code}: ${errors.slice(-500)}`));
        };
        child.once("exit", onExit);
        waiters.push({
          line,
          resolve: () => {
            clearTimeout(timer);
            child.off("exit", onExit);
            resolve();
          },
        });
      }),
  };
}

/** CPU seconds per 1,000 the child spends between `go` and `done`. */
async function childCpuPer1000(child: Child, events: number, timeoutMs: number): Promise<number> {
  try {
    await child.untilLine("ready", 60_000);
    const pid = child.process.pid ?? 0;
    const before = cpuSeconds(pid);
    const done = child.untilLine("done", timeoutMs);
    child.process.stdin.write("go\n");
    await done;
    return (cpuSeconds(pid) - before) / (events / 1000);
  } finally {
    child.process.stdin.end();
    child.process.kill();
  }
}

const job = (prefix: string, n: number): DeliveryJob => ({
  v: 1,
  key: `${prefix}-${n}`,
  version: 1,
  event_id: `evt-${prefix}-${n}`,
  occurred_at: new Date().toISOString(),
  enqueued_at: new Date().toISOString(),
});

/** The BullMQ parts: the adds (here), then a no-op worker draining them (in its own process). */
async function bullmqFloors(
  redisUrl: string,
  options: { events: number; batch: number; concurrency: number },
): Promise<{ add: number; worker: number }> {
  const prefix = uniqueName("bench-floor");
  const destination = "floor";
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 3, enableOfflineQueue: false });
  const queues = createDeliveryQueues({
    connection,
    prefix,
    destinations: { [destination]: BackoffPolicySchema.parse({}) },
  });
  try {
    const cpuBefore = process.cpuUsage();
    for (let n = 0; n < options.events; n += options.batch) {
      const size = Math.min(options.batch, options.events - n);
      await queues.enqueueBulk(
        destination,
        Array.from({ length: size }, (_, i) => job(prefix, n + i)),
      );
    }
    const cpu = process.cpuUsage(cpuBefore);
    const add = (cpu.user + cpu.system) / 1e6 / (options.events / 1000);
    const names = destinationQueueNames(prefix, destination);
    const worker = await childCpuPer1000(
      startChild([
        "worker",
        redisUrl,
        names.prefix,
        names.deliver,
        String(options.concurrency),
        String(options.events),
      ]),
      options.events,
      60_000 + options.events * 20,
    );
    return { add, worker };
  } finally {
    await queues
      .get(destination)
      .deliver.obliterate({ force: true })
      .catch(() => undefined);
    await queues.close();
    connection.disconnect();
  }
}

/** Measures the floors; `kafkajsConsume` comes from the raw kafkajs baseline of the same run. */
export async function benchFloors(
  redisUrl: string,
  crm: CrmFake,
  kafkajsConsume: number,
  options: { events: number; batch: number; concurrency: number },
): Promise<Floors> {
  const { add, worker } = await bullmqFloors(redisUrl, options);
  crm.reset();
  const httpClient = await childCpuPer1000(
    startChild(["http", crm.url, String(options.concurrency), String(options.events), "600"]),
    options.events,
    60_000 + options.events * 20,
  );
  return {
    kafkajsConsume,
    bullmqAdd: add,
    bullmqWorker: worker,
    httpClient,
    total: kafkajsConsume + add + worker + httpClient,
  };
}
