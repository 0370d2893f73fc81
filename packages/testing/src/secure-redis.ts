import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./ports.js";
import type { TestPki } from "./test-pki.js";
import { waitFor } from "./wait.js";
import { stoppable } from "./stoppable.js";

export interface SecureRedisSettings {
  /** An empty folder for the server's working directory and log. */
  readonly dir: string;
  readonly pki: TestPki;
  /** ACL users with full access; the default user is switched off. */
  readonly users: Readonly<Record<string, string>>;
  /** `yes` demands a client certificate signed by the CA, `optional` checks one when sent. */
  readonly authClients: "yes" | "optional" | "no";
}

export interface SecureRedis {
  readonly port: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

/**
 * Starts the machine's redis-server with TLS only (`--port 0`), certificates from the test CA,
 * and ACL users; resolves once an authenticated TLS client gets PONG.
 */
export async function startSecureRedis(settings: SecureRedisSettings): Promise<SecureRedis> {
  const { dir, pki } = settings;
  const port = await freePort();
  const logFile = join(dir, "redis.log");
  const users = Object.entries(settings.users).flatMap(([name, password]) => [
    "--user",
    name,
    "on",
    `>${password}`,
    "~*",
    "&*",
    "+@all",
  ]);
  const args = [
    "--port",
    "0",
    "--bind",
    "127.0.0.1",
    "--tls-port",
    String(port),
    "--tls-cert-file",
    pki.serverCertFile,
    "--tls-key-file",
    pki.serverKeyFile,
    "--tls-ca-cert-file",
    pki.caFile,
    "--tls-auth-clients",
    settings.authClients,
    "--user",
    "default",
    "off",
    ...users,
    "--dir",
    dir,
    "--logfile",
    logFile,
    "--save",
    "",
    "--appendonly",
    "no",
  ];
  const child = spawn("redis-server", args, { stdio: "ignore" });
  const { isRunning, stop } = stoppable(child);

  const [name, password] = Object.entries(settings.users)[0] ?? [];
  const tls = {
    ca: await readFile(pki.caFile, "utf8"),
    cert: await readFile(pki.clientCertFile, "utf8"),
    key: await readFile(pki.clientKeyFile, "utf8"),
  };
  try {
    await waitFor(
      async () => {
        if (!isRunning())
          throw new Error(`redis-server exited:\n${await readFile(logFile, "utf8").catch(() => "")}`);
        const probe = new Redis({
          host: "127.0.0.1",
          port,
          tls,
          ...(name !== undefined ? { username: name, password } : {}),
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on("error", () => undefined);
        try {
          await probe.connect();
          return (await probe.ping()) === "PONG";
        } finally {
          probe.disconnect();
        }
      },
      { timeoutMs: 20_000, intervalMs: 200, message: "TLS redis-server answers PING" },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, logFile, stop };
}
