import { createInterface } from "node:readline";
import { DEFAULT_LIMITER } from "@handoff-sync/queue";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { Agent, request } from "undici";

/**
 * One part of the pipeline alone, in a process of its own as the services run it, so the bench
 * can read its CPU from /proc: `worker <redisUrl> <prefix> <queue> <concurrency> <events>` runs a
 * no-op BullMQ worker with the delivery worker's options over a filled queue; `http <url>
 * <concurrency> <events> <bodyBytes>` posts that many bodies over a keep-alive pool as the
 * webhook adapter does. It prints `ready` once warmed up, starts on `go` from stdin and prints
 * `done` when every job or request finished.
 */
const [mode, ...args] = process.argv.slice(2);

async function untilGo(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  process.stdout.write("ready\n");
  for await (const line of lines) if (line.trim() === "go") return;
}

async function worker(redisUrl: string, prefix: string, queue: string, concurrency: number, events: number) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  let completed = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  // The options `createDeliveryWorker` gives every destination's worker, with a processor that
  // does nothing: what BullMQ alone costs per job on the delivery side.
  const noop = new Worker(queue, () => Promise.resolve(), {
    connection,
    prefix,
    concurrency,
    lockDuration: 10_000,
    maxStalledCount: 2,
    limiter: { ...DEFAULT_LIMITER },
    autorun: false,
  });
  noop.on("completed", () => {
    completed++;
    if (completed >= events) resolveDone();
  });
  noop.on("error", () => undefined);
  await noop.waitUntilReady();
  await untilGo();
  void noop.run();
  await done;
  process.stdout.write("done\n");
  await noop.close();
  connection.disconnect();
}

async function http(url: string, concurrency: number, events: number, bodyBytes: number) {
  const agent = new Agent({ connections: concurrency, connect: { timeout: 5000 } });
  const body = JSON.stringify({ data: "x".repeat(Math.max(0, bodyBytes - 12)) });
  const post = async (): Promise<void> => {
    const response = await request(url, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(5000),
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    await response.body.dump();
  };
  // Warm-up: the pool's connections are open before the clock starts.
  await Promise.all(Array.from({ length: concurrency }, post));
  await untilGo();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < events) {
        next++;
        await post();
      }
    }),
  );
  process.stdout.write("done\n");
  await agent.close();
}

if (mode === "worker") {
  const [redisUrl = "", prefix = "", queue = "", concurrency = "16", events = "0"] = args;
  await worker(redisUrl, prefix, queue, Number(concurrency), Number(events));
} else if (mode === "http") {
  const [url = "", concurrency = "16", events = "0", bodyBytes = "600"] = args;
  await http(url, Number(concurrency), Number(events), Number(bodyBytes));
} else {
  process.stderr.write(`unknown mode ${mode ?? "(none)"}\n`);
  process.exit(2);
}
