import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  freePort,
  startFakeServer,
  startPipeline,
  startRedisServer,
  uniqueName,
  waitFor,
  type FakeServer,
  type Pipeline,
  type PrivateRedis,
} from "@handoff-sync/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A service that never becomes ready (its Redis refuses it), run from its built entry point until
 * `until` matches one of its log lines; returns every line it wrote.
 */
async function runUntil(
  service: "consumer" | "worker" | "api",
  env: Record<string, string>,
  until: RegExp,
): Promise<string[]> {
  const child = spawn(process.execPath, [`${repoRoot}services/${service}/dist/main.js`], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", ...env, PORT: String(await freePort()) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") lines.push(line);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitFor(() => lines.some((line) => until.test(line)), {
      timeoutMs: 20_000,
      message: `${service} logs ${String(until)}\n${lines.join("\n")}`,
    });
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
  return lines;
}

describe("log lines never carry Redis command arguments (passwords, snapshots)", () => {
  let dir = "";
  let configPath = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hs-log-secrets-"));
    configPath = join(dir, "destinations.yaml");
    await writeFile(
      configPath,
      [
        "version: 1",
        "destinations:",
        "  crm:",
        "    type: webhook",
        "    url: http://127.0.0.1:9/hooks",
        "    secret: env:DEMO_WEBHOOK_SECRET",
        "    allow_private_network: true",
        "",
      ].join("\n"),
    );
  });
  afterAll(async () => {
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  describe("a wrong Redis password (after a rotation)", () => {
    const PASSWORD = "the-current-redis-password";
    const WRONG = "an-old-rotated-password-4f2a9c";
    let redis: PrivateRedis;
    beforeAll(async () => {
      // Set after start-up: the start-up probe connects without a password.
      redis = await startRedisServer();
      const admin = new Redis(redis.url);
      await admin.config("SET", "requirepass", PASSWORD);
      admin.disconnect();
    });
    afterAll(() => redis?.stop());

    it.each(["consumer", "worker", "api"] as const)(
      "%s logs the refusal, not the password it sent",
      async (service) => {
        const lines = await runUntil(
          service,
          {
            KAFKA_BROKERS: inject("kafkaBrokers"),
            REDIS_URL: redis.url,
            REDIS_PASSWORD: WRONG,
            HANDOFF_SYNC_CONFIG: configPath,
            DEMO_WEBHOOK_SECRET: "whsec_dGVzdC1zZWNyZXQ=",
            HANDOFF_API_KEYS: "ops:admin:an-api-key-0123456789",
          },
          /"msg":"redis error"/,
        );
        const line = lines.find((l) => l.includes('"msg":"redis error"')) ?? "";
        const logged = JSON.parse(line) as { err: { message: string; command: unknown } };
        expect(logged.err.message).toMatch(/^WRONGPASS/);
        expect(logged.err.command).toEqual({ name: "auth" });
        expect(lines.join("\n")).not.toContain(WRONG);
      },
    );
  });

  describe("a Redis out of memory (noeviction) while a snapshot is written", () => {
    let redis: PrivateRedis;
    let pipeline: Pipeline;
    let receiver: FakeServer;
    beforeAll(async () => {
      redis = await startRedisServer();
      receiver = await startFakeServer(() => ({ status: 204 }));
      pipeline = await startPipeline({
        kafkaBrokers: inject("kafkaBrokers"),
        redisUrl: redis.url,
        receiverUrl: `${receiver.url}/hooks`,
      });
      // Full after start-up, so the services are ready and every write from now on is refused.
      const admin = new Redis(redis.url);
      try {
        await admin.config("SET", "maxmemory-policy", "noeviction");
        await admin.config("SET", "maxmemory", "1mb");
        for (let i = 0; ; i++) {
          try {
            await admin.set(`filler:${i}`, "x".repeat(64 * 1024));
          } catch {
            break;
          }
        }
      } finally {
        admin.disconnect();
      }
    });
    afterAll(async () => {
      await pipeline?.stop();
      await receiver?.close();
      await redis?.stop();
    });

    it("the consumer logs the OOM error by name and message, without the event's data", async () => {
      const marker = `customer-marker-${randomUUID()}`;
      const sharedId = uniqueName("oom");
      await pipeline.produce([
        {
          schema_version: 1,
          event_id: randomUUID(),
          id: `conv-${sharedId}`,
          shared_id: sharedId,
          state: "handoff_initiated",
          occurred_at: new Date().toISOString(),
          data: { customer_id: "42", note: marker },
        },
      ]);
      const consumer = pipeline.services.get("consumer");
      const oom = await waitFor(
        () => consumer?.lines.find((line) => line.includes("OOM command not allowed")),
        {
          timeoutMs: 30_000,
          message: "the consumer logs the OOM error",
        },
      );
      expect(oom).toMatch(/"(type|name)":"ReplyError"/);
      const all = [...pipeline.services.values()].flatMap((service) => service.lines).join("\n");
      expect(all).not.toContain(marker);
    });
  });
});
