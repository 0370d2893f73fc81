import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

export type ServiceName = "consumer" | "worker" | "api" | "demo-crm";

export interface RunningService {
  readonly name: ServiceName;
  readonly process: ChildProcess;
  /** Every line the service wrote, stdout and stderr, for assertions on its own output. */
  readonly lines: string[];
  readonly port: number;
  /** Resolves with the exit code once the process ended. */
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  kill(): Promise<number | null>;
}

/**
 * The V8 flags every service runs with in production: the container image's `NODE_OPTIONS`
 * (infra/docker/Dockerfile) and the services' start scripts carry the same string, which a test
 * checks. A small young generation keeps the heap a burst leaves behind small; see
 * docs/configuration.md ("Memory") and docs/performance.md.
 */
export const SERVICE_NODE_OPTIONS = "--max-semi-space-size=4 --max-old-space-size=96";
/** glibc's malloc arenas, as the image and the start scripts bound them (decision 0021). */
export const SERVICE_MALLOC_ARENA_MAX = "2";

/**
 * Starts a service from its built entry point exactly as production does (`node dist/main.js`
 * with `SERVICE_NODE_OPTIONS`, unless `env` sets NODE_OPTIONS), and waits until its /readyz answers 200.
 */
export async function startService(
  name: ServiceName,
  env: Record<string, string>,
  options: { port: number; readyTimeoutMs?: number; readyPath?: string },
): Promise<RunningService> {
  const child = spawn(process.execPath, [`${repoRoot}services/${name}/dist/main.js`], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      NODE_OPTIONS: SERVICE_NODE_OPTIONS,
      MALLOC_ARENA_MAX: SERVICE_MALLOC_ARENA_MAX,
      ...env,
      PORT: String(options.port),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") lines.push(line);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> => {
    if (!ended) child.kill(signal);
    return exited;
  };
  try {
    await waitFor(
      async () => {
        if (ended) throw new Error(`${name} exited during start-up:\n${lines.slice(-30).join("\n")}`);
        const response = await fetch(`http://127.0.0.1:${options.port}${options.readyPath ?? "/readyz"}`);
        return response.ok;
      },
      { timeoutMs: options.readyTimeoutMs ?? 60_000, intervalMs: 200, message: `${name} ready` },
    );
  } catch (error) {
    await stop("SIGKILL");
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\n--- ${name} output ---\n${lines.slice(-40).join("\n")}`,
      { cause: error },
    );
  }
  return { name, process: child, lines, port: options.port, exited, stop, kill: () => stop("SIGKILL") };
}
