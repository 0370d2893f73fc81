import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv, redisOptions, RedisEnvSchema } from "@handoff-sync/config";
import {
  createTestPki,
  startSecureRedis,
  uniqueName,
  type SecureRedis,
  type TestPki,
} from "@handoff-sync/testing";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ALICE = { name: "alice", password: "alice-secret" };

describe("Redis over TLS with an ACL user, configured from the environment as the services are", () => {
  let dir = "";
  let pki: TestPki;
  let server: SecureRedis;
  let passwordFile = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hs-secure-redis-"));
    pki = await createTestPki(dir);
    passwordFile = join(dir, "redis-password");
    await writeFile(passwordFile, `${ALICE.password}\n`);
    // Client certificates are demanded, so a connection that works proves the optional cert was sent.
    server = await startSecureRedis({
      dir,
      pki,
      users: { [ALICE.name]: ALICE.password },
      authClients: "yes",
    });
  });
  afterAll(async () => {
    await server?.stop();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  /** What every main does: parse the environment, build the options, add the connection's own. */
  async function connect(vars: Record<string, string>): Promise<Redis> {
    const env = parseEnv(RedisEnvSchema, vars);
    const redis = new Redis(env.REDIS_URL, {
      ...(await redisOptions(env)),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // ioredis rejects connect() with "Connection is closed"; the cause is the first 'error' event.
    const errors: unknown[] = [];
    redis.on("error", (error) => errors.push(error));
    try {
      await redis.connect();
    } catch (error) {
      throw errors[0] ?? error;
    }
    return redis;
  }

  const tlsFiles = () => ({
    REDIS_TLS_CA_FILE: pki.caFile,
    REDIS_TLS_CERT_FILE: pki.clientCertFile,
    REDIS_TLS_KEY_FILE: pki.clientKeyFile,
  });

  it("connects with TLS and REDIS_USERNAME / REDIS_PASSWORD_FILE, as that user", async () => {
    const redis = await connect({
      REDIS_URL: `rediss://127.0.0.1:${server.port}`,
      REDIS_USERNAME: ALICE.name,
      REDIS_PASSWORD_FILE: passwordFile,
      ...tlsFiles(),
    });
    try {
      expect(await redis.call("ACL", "WHOAMI")).toBe(ALICE.name);
      await redis.set("hs-secure-check", "ok");
      expect(await redis.get("hs-secure-check")).toBe("ok");
    } finally {
      redis.disconnect();
    }
  });

  it("connects with the user and password in the URL", async () => {
    const redis = await connect({
      REDIS_URL: `rediss://${ALICE.name}:${ALICE.password}@127.0.0.1:${server.port}`,
      ...tlsFiles(),
    });
    try {
      expect(await redis.call("ACL", "WHOAMI")).toBe(ALICE.name);
    } finally {
      redis.disconnect();
    }
  });

  it("carries BullMQ queues and workers (duplicated connections keep TLS and credentials)", async () => {
    const connection = await connect({
      REDIS_URL: `rediss://127.0.0.1:${server.port}`,
      REDIS_USERNAME: ALICE.name,
      REDIS_PASSWORD: ALICE.password,
      ...tlsFiles(),
    });
    const name = uniqueName("secure");
    const queue = new Queue(name, { connection });
    const done = new Promise<unknown>((resolve) => {
      const worker = new Worker(name, (job) => Promise.resolve<unknown>(job.data), { connection });
      worker.on("completed", (_job, result) => void worker.close().then(() => resolve(result)));
    });
    await queue.add("probe", { over: "tls" });
    expect(await done).toEqual({ over: "tls" });
    await queue.close();
    connection.disconnect();
  });

  it("refuses a wrong password", async () => {
    const wrong = join(dir, "wrong-password");
    await writeFile(wrong, "not-the-password\n");
    await expect(
      connect({
        REDIS_URL: `rediss://127.0.0.1:${server.port}`,
        REDIS_USERNAME: ALICE.name,
        REDIS_PASSWORD_FILE: wrong,
        ...tlsFiles(),
      }),
    ).rejects.toThrow(/WRONGPASS/);
  });

  it("refuses a server whose certificate is not signed by REDIS_TLS_CA_FILE's CA", async () => {
    const otherCa = await mkdtemp(join(dir, "other-ca-"));
    const other = await createTestPki(otherCa);
    await expect(
      connect({
        REDIS_URL: `rediss://127.0.0.1:${server.port}`,
        REDIS_USERNAME: ALICE.name,
        REDIS_PASSWORD: ALICE.password,
        REDIS_TLS_CA_FILE: other.caFile,
        REDIS_TLS_CERT_FILE: pki.clientCertFile,
        REDIS_TLS_KEY_FILE: pki.clientKeyFile,
      }),
    ).rejects.toThrow(/certificate/i);
  });
});
