import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Registry } from "prom-client";

export type ReadinessCheck = () => Promise<void>;

export interface HealthServerOptions {
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
  readonly registry?: Registry;
  readonly checkTimeoutMs?: number;
}

export interface HealthServer {
  readonly server: Server;
  listen(port: number, host?: string): Promise<number>;
  /** After this, /readyz answers 503 so load balancers stop sending work while we drain. */
  markShuttingDown(): void;
  close(): Promise<void>;
}

async function withTimeout(check: ReadinessCheck, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Liveness, readiness and metrics for services that have no HTTP API of their own. */
export function createHealthServer(options: HealthServerOptions): HealthServer {
  let shuttingDown = false;
  const timeoutMs = options.checkTimeoutMs ?? 2000;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") return send(res, 200, { status: "ok" });
    if (path === "/readyz") {
      const results = await readiness(options.checks, timeoutMs);
      const ready = !shuttingDown && Object.values(results).every((r) => r === "ok");
      return send(res, ready ? 200 : 503, {
        status: ready ? "ready" : "not_ready",
        shuttingDown,
        checks: results,
      });
    }
    if (path === "/metrics" && options.registry) {
      const text = await options.registry.metrics();
      res.writeHead(200, { "content-type": options.registry.contentType });
      res.end(text);
      return;
    }
    send(res, 404, { status: "not_found" });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { status: "error", error: String(error) }));
  });

  return {
    server,
    listen: (port, host = "0.0.0.0") =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const address = server.address();
          resolve(typeof address === "object" && address ? address.port : port);
        });
      }),
    markShuttingDown: () => {
      shuttingDown = true;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function readiness(
  checks: Readonly<Record<string, ReadinessCheck>>,
  timeoutMs = 2000,
): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check, timeoutMs);
        return [name, "ok"] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)] as const;
      }
    }),
  );
  return Object.fromEntries(entries);
}
