import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { LOG_FLUSH_MS } from "./logger.js";

// The services log to standard output through `createLogger`'s buffered destination. These run a
// real process on the built logger (dist/), as the services do.
const LOGGER = fileURLToPath(new URL("../dist/logger.js", import.meta.url));

interface Run {
  readonly lines: string[];
  /** When each line arrived (epoch ms). */
  readonly arrivals: number[];
  readonly code: number | null;
}

function runChild(body: string): Promise<Run> {
  // fs.write is counted before the logger loads: each call is one write of the destination.
  const script = `import fs from "node:fs";
const write = fs.write;
globalThis.writes = 0;
fs.write = (...args) => { globalThis.writes++; return write(...args); };
const { createLogger } = await import(${JSON.stringify(LOGGER)});
const log = createLogger({ level: "info", service: "test" });
${body}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    const lines: string[] = [];
    const arrivals: number[] = [];
    let pending = "";
    child.stdout.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        arrivals.push(Date.now());
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ lines, arrivals, code }));
  });
}

describe("the services' log output", () => {
  it("writes every buffered line when the process exits at once (a fatal error's process.exit)", async () => {
    const run = await runChild(
      `for (let i = 0; i < 200; i++) log.info({ i }, "line");
log.fatal("uncaught exception");
process.exit(3);`,
    );
    expect(run.code).toBe(3);
    expect(run.lines).toHaveLength(201);
    expect(JSON.parse(run.lines[200] ?? "{}")).toMatchObject({ level: "fatal", msg: "uncaught exception" });
  });

  it("writes a lone line within the flush interval, not when more lines come", async () => {
    const run = await runChild(
      `await new Promise((resolve) => setTimeout(resolve, 300));
const at = Date.now();
log.info({ at }, "alone");
await new Promise((resolve) => setTimeout(resolve, 3000));`,
    );
    expect(run.lines).toHaveLength(1);
    const line = JSON.parse(run.lines[0] ?? "{}") as { at: number };
    expect(line).toMatchObject({ msg: "alone" });
    // Held at most one flush interval, with room for a slow machine; never the 3 s until exit.
    expect((run.arrivals[0] ?? Infinity) - line.at).toBeLessThan(LOG_FLUSH_MS + 1000);
  });

  it("writes lines logged one at a time (a line per delivery) in a few writes, not one each", async () => {
    const run = await runChild(
      `for (let i = 0; i < 60; i++) {
  log.info({ i, handoffKey: "h-" + i, destination: "webhook" }, "delivery attempt");
  await new Promise((resolve) => setTimeout(resolve, 2));
}
await new Promise((resolve) => setTimeout(resolve, 500));
log.info({ writes: globalThis.writes }, "counted");`,
    );
    expect(run.lines).toHaveLength(61);
    const { writes } = JSON.parse(run.lines[60] ?? "{}") as { writes: number };
    // One write per line without the buffer; about two 4 KiB writes and a flush with it.
    expect(writes).toBeLessThanOrEqual(10);
  });
});
