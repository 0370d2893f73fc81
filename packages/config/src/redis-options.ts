import type { ConnectionOptions } from "node:tls";
import { ConfigError, type ConfigProblem } from "./config-error.js";
import type { RedisEnv } from "./env-schemas.js";
import { createFileReader, secretFromFile } from "./secret-files.js";

/**
 * The ioredis options every connection of every service starts from (credentials and TLS); each
 * main adds what its purpose needs (`maxRetriesPerRequest: null` for BullMQ workers, and so on).
 * Structurally a subset of ioredis' `RedisOptions`, so this package needs no ioredis.
 */
export interface RedisConnectionOptions {
  readonly username?: string;
  readonly password?: string;
  readonly tls?: ConnectionOptions;
}

type RedisSecurityEnv = Pick<
  RedisEnv,
  | "REDIS_URL"
  | "REDIS_USERNAME"
  | "REDIS_PASSWORD"
  | "REDIS_PASSWORD_FILE"
  | "REDIS_TLS_CA_FILE"
  | "REDIS_TLS_CERT_FILE"
  | "REDIS_TLS_KEY_FILE"
>;

/**
 * Builds the connection options for `new Redis(env.REDIS_URL, { ...options, ... })`. TLS is on
 * exactly when the URL is `rediss://`. Credentials come from the URL or from `REDIS_USERNAME` and
 * `REDIS_PASSWORD(_FILE)`, never both (ioredis would silently prefer the URL's). Throws a
 * ConfigError listing every problem.
 */
export async function redisOptions(env: RedisSecurityEnv): Promise<RedisConnectionOptions> {
  const problems: ConfigProblem[] = [];
  const read = createFileReader(problems);
  const url = new URL(env.REDIS_URL);
  const secure = url.protocol === "rediss:";

  let tls: ConnectionOptions | undefined;
  if (secure) {
    if (env.REDIS_TLS_CERT_FILE === undefined && env.REDIS_TLS_KEY_FILE !== undefined) {
      problems.push({ path: "REDIS_TLS_CERT_FILE", message: "is required when REDIS_TLS_KEY_FILE is set" });
    }
    if (env.REDIS_TLS_KEY_FILE === undefined && env.REDIS_TLS_CERT_FILE !== undefined) {
      problems.push({ path: "REDIS_TLS_KEY_FILE", message: "is required when REDIS_TLS_CERT_FILE is set" });
    }
    const [ca, cert, key] = await Promise.all([
      env.REDIS_TLS_CA_FILE === undefined ? undefined : read("REDIS_TLS_CA_FILE", env.REDIS_TLS_CA_FILE),
      env.REDIS_TLS_CERT_FILE === undefined
        ? undefined
        : read("REDIS_TLS_CERT_FILE", env.REDIS_TLS_CERT_FILE),
      env.REDIS_TLS_KEY_FILE === undefined ? undefined : read("REDIS_TLS_KEY_FILE", env.REDIS_TLS_KEY_FILE),
    ]);
    tls = {};
    if (ca !== undefined) tls.ca = ca;
    if (cert !== undefined) tls.cert = cert;
    if (key !== undefined) tls.key = key;
  } else {
    for (const name of ["REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE"] as const) {
      if (env[name] !== undefined)
        problems.push({ path: name, message: "is set but REDIS_URL is not a rediss:// URL" });
    }
  }

  const fromUrl = url.username !== "" || url.password !== "";
  let password: string | undefined;
  if (env.REDIS_PASSWORD !== undefined && env.REDIS_PASSWORD_FILE !== undefined) {
    problems.push({
      path: "REDIS_PASSWORD_FILE",
      message: "set either REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both",
    });
  } else if (env.REDIS_PASSWORD_FILE !== undefined) {
    const content = await read("REDIS_PASSWORD_FILE", env.REDIS_PASSWORD_FILE);
    if (content !== undefined) password = secretFromFile(content);
  } else {
    password = env.REDIS_PASSWORD;
  }
  if (fromUrl) {
    for (const name of ["REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_PASSWORD_FILE"] as const) {
      if (env[name] !== undefined)
        problems.push({
          path: name,
          message: "is set but REDIS_URL already carries credentials; use one or the other",
        });
    }
  } else if (
    env.REDIS_USERNAME !== undefined &&
    password === undefined &&
    env.REDIS_PASSWORD_FILE === undefined
  ) {
    problems.push({
      path: "REDIS_PASSWORD",
      message: "is required when REDIS_USERNAME is set (or REDIS_PASSWORD_FILE)",
    });
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...(!fromUrl && env.REDIS_USERNAME !== undefined ? { username: env.REDIS_USERNAME } : {}),
    ...(!fromUrl && password !== undefined ? { password } : {}),
    ...(tls !== undefined ? { tls } : {}),
  };
}
