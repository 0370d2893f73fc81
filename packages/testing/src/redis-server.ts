import { spawn } from "node:child_process";
import { Redis } from "ioredis";
import { freePort } from "./ports.js";
import { stoppable } from "./stoppable.js";
import { waitFor } from "./wait.js";

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGTERM) and waits for it; calling it again does nothing. */
  stop(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free port, kept in memory, for faults the shared Redis must
 * not see (an outage, a password, a memory limit). `args` are extra redis-server options.
 */
export async function startRedisServer(args: readonly string[] = []): Promise<PrivateRedis> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...args],
    { stdio: "ignore" },
  );
  const { isRunning, stop } = stoppable(child);
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (!isRunning()) throw new Error(`redis-server on port ${port} exited during start-up`);
        const probe = new Redis(url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on("error", () => undefined);
        try {
          await probe.connect();
          return true;
        } catch {
          return false;
        } finally {
          probe.disconnect();
        }
      },
      { timeoutMs: 20_000, intervalMs: 100, message: `redis-server on port ${port} accepts connections` },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, url, stop };
}
