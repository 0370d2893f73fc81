import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { KafkaSecurityEnvSchema, RedisEnvSchema } from "./env-schemas.js";
import { kafkaConnectionOptions } from "./kafka-options.js";
import { parseEnv } from "./parse-env.js";
import { redisOptions } from "./redis-options.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hs-conn-"));
  await writeFile(join(dir, "ca.pem"), "CA");
  await writeFile(join(dir, "cert.pem"), "CERT");
  await writeFile(join(dir, "key.pem"), "KEY");
  await writeFile(join(dir, "password"), "s3cret\n");
});

const kafkaEnv = (vars: Record<string, string>) => parseEnv(KafkaSecurityEnvSchema, vars);
const redisEnv = (vars: Record<string, string>) => parseEnv(RedisEnvSchema, vars);

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error instanceof ConfigError ? error.problems.map((p) => `${p.path}: ${p.message}`) : [];
}

describe("kafkaConnectionOptions", () => {
  it("is empty for a plaintext, unauthenticated cluster", async () => {
    expect(await kafkaConnectionOptions(kafkaEnv({}))).toEqual({});
  });

  it("reads the TLS files and the password file (without its trailing newline)", async () => {
    const options = await kafkaConnectionOptions(
      kafkaEnv({
        KAFKA_SSL: "true",
        KAFKA_SSL_CA_FILE: join(dir, "ca.pem"),
        KAFKA_SSL_CERT_FILE: join(dir, "cert.pem"),
        KAFKA_SSL_KEY_FILE: join(dir, "key.pem"),
        KAFKA_SASL_MECHANISM: "scram-sha-512",
        KAFKA_SASL_USERNAME: "alice",
        KAFKA_SASL_PASSWORD_FILE: join(dir, "password"),
      }),
    );
    expect(options).toEqual({
      ssl: { ca: "CA", cert: "CERT", key: "KEY" },
      sasl: { mechanism: "scram-sha-512", username: "alice", password: "s3cret" },
    });
  });

  it("turns TLS on with the system CAs when only KAFKA_SSL is set", async () => {
    expect(
      await kafkaConnectionOptions(
        kafkaEnv({
          KAFKA_SSL: "yes",
          KAFKA_SASL_MECHANISM: "plain",
          KAFKA_SASL_USERNAME: "a",
          KAFKA_SASL_PASSWORD: "p",
        }),
      ),
    ).toEqual({
      ssl: {},
      sasl: { mechanism: "plain", username: "a", password: "p" },
    });
  });

  it("rejects an unknown mechanism when the environment is parsed", () => {
    expect(() => kafkaEnv({ KAFKA_SASL_MECHANISM: "gssapi" })).toThrow(ConfigError);
  });

  it("lists every problem at once, naming files but never their content", async () => {
    const problems = await problemsOf(
      kafkaConnectionOptions(
        kafkaEnv({
          KAFKA_SSL_CA_FILE: join(dir, "ca.pem"),
          KAFKA_SASL_USERNAME: "alice",
        }),
      ),
    );
    expect(problems).toEqual([
      "KAFKA_SSL_CA_FILE: is set but KAFKA_SSL is not true",
      "KAFKA_SASL_USERNAME: is set but KAFKA_SASL_MECHANISM is not (plain, scram-sha-256 or scram-sha-512)",
    ]);
    const more = await problemsOf(
      kafkaConnectionOptions(
        kafkaEnv({
          KAFKA_SSL: "true",
          KAFKA_SSL_CA_FILE: join(dir, "missing.pem"),
          KAFKA_SSL_CERT_FILE: join(dir, "cert.pem"),
          KAFKA_SASL_MECHANISM: "plain",
          KAFKA_SASL_PASSWORD: "p",
          KAFKA_SASL_PASSWORD_FILE: join(dir, "password"),
        }),
      ),
    );
    expect(more).toEqual([
      "KAFKA_SSL_KEY_FILE: is required when KAFKA_SSL_CERT_FILE is set",
      `KAFKA_SSL_CA_FILE: cannot read ${join(dir, "missing.pem")} (ENOENT)`,
      "KAFKA_SASL_USERNAME: is required with KAFKA_SASL_MECHANISM=plain",
      "KAFKA_SASL_PASSWORD_FILE: set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both",
    ]);
  });
});

describe("redisOptions", () => {
  it("adds nothing to a plain URL", async () => {
    expect(await redisOptions(redisEnv({ REDIS_URL: "redis://localhost:6379" }))).toEqual({});
  });

  it("leaves credentials in the URL to ioredis and turns TLS on for rediss://", async () => {
    expect(
      await redisOptions(
        redisEnv({ REDIS_URL: "rediss://alice:pw@redis:6380", REDIS_TLS_CA_FILE: join(dir, "ca.pem") }),
      ),
    ).toEqual({ tls: { ca: "CA" } });
  });

  it("takes the ACL user and password from the environment and the client certificate from files", async () => {
    expect(
      await redisOptions(
        redisEnv({
          REDIS_URL: "rediss://redis:6380",
          REDIS_USERNAME: "alice",
          REDIS_PASSWORD_FILE: join(dir, "password"),
          REDIS_TLS_CERT_FILE: join(dir, "cert.pem"),
          REDIS_TLS_KEY_FILE: join(dir, "key.pem"),
        }),
      ),
    ).toEqual({ username: "alice", password: "s3cret", tls: { cert: "CERT", key: "KEY" } });
  });

  it("lists every problem at once", async () => {
    const problems = await problemsOf(
      redisOptions(
        redisEnv({
          REDIS_URL: "redis://bob:pw@redis:6379",
          REDIS_PASSWORD: "other",
          REDIS_TLS_CA_FILE: join(dir, "ca.pem"),
        }),
      ),
    );
    expect(problems).toEqual([
      "REDIS_TLS_CA_FILE: is set but REDIS_URL is not a rediss:// URL",
      "REDIS_PASSWORD: is set but REDIS_URL already carries credentials; use one or the other",
    ]);
    expect(
      await problemsOf(
        redisOptions(
          redisEnv({
            REDIS_URL: "rediss://redis:6380",
            REDIS_USERNAME: "alice",
            REDIS_TLS_KEY_FILE: join(dir, "key.pem"),
          }),
        ),
      ),
    ).toEqual([
      "REDIS_TLS_CERT_FILE: is required when REDIS_TLS_KEY_FILE is set",
      "REDIS_PASSWORD: is required when REDIS_USERNAME is set (or REDIS_PASSWORD_FILE)",
    ]);
  });
});
