import type { ConnectionOptions } from "node:tls";
import { ConfigError, type ConfigProblem } from "./config-error.js";
import type { KafkaSecurityEnv } from "./env-schemas.js";
import { createFileReader, secretFromFile } from "./secret-files.js";

export type KafkaSaslMechanism = NonNullable<KafkaSecurityEnv["KAFKA_SASL_MECHANISM"]>;

/** One member per mechanism, so it is assignable to kafkajs' union of mechanism options. */
export type KafkaSasl = {
  [M in KafkaSaslMechanism]: { readonly mechanism: M; readonly username: string; readonly password: string };
}[KafkaSaslMechanism];

/** The `ssl` and `sasl` settings of a Kafka client; both absent for a plaintext, unauthenticated cluster. */
export interface KafkaConnectionOptions {
  readonly ssl?: ConnectionOptions;
  readonly sasl?: KafkaSasl;
}

/**
 * Builds the TLS and SASL settings every service passes to `createKafkaClient`, reading the CA,
 * certificate, key and password files. Throws a ConfigError listing every problem: rules that span
 * variables (a certificate without its key, a mechanism without credentials) and unreadable files.
 */
export async function kafkaConnectionOptions(env: KafkaSecurityEnv): Promise<KafkaConnectionOptions> {
  const problems: ConfigProblem[] = [];
  const read = createFileReader(problems);

  let ssl: ConnectionOptions | undefined;
  if (env.KAFKA_SSL) {
    const tls: ConnectionOptions = {};
    if (env.KAFKA_SSL_CERT_FILE === undefined && env.KAFKA_SSL_KEY_FILE !== undefined) {
      problems.push({ path: "KAFKA_SSL_CERT_FILE", message: "is required when KAFKA_SSL_KEY_FILE is set" });
    }
    if (env.KAFKA_SSL_KEY_FILE === undefined && env.KAFKA_SSL_CERT_FILE !== undefined) {
      problems.push({ path: "KAFKA_SSL_KEY_FILE", message: "is required when KAFKA_SSL_CERT_FILE is set" });
    }
    const [ca, cert, key] = await Promise.all([
      env.KAFKA_SSL_CA_FILE === undefined ? undefined : read("KAFKA_SSL_CA_FILE", env.KAFKA_SSL_CA_FILE),
      env.KAFKA_SSL_CERT_FILE === undefined
        ? undefined
        : read("KAFKA_SSL_CERT_FILE", env.KAFKA_SSL_CERT_FILE),
      env.KAFKA_SSL_KEY_FILE === undefined ? undefined : read("KAFKA_SSL_KEY_FILE", env.KAFKA_SSL_KEY_FILE),
    ]);
    if (ca !== undefined) tls.ca = ca;
    if (cert !== undefined) tls.cert = cert;
    if (key !== undefined) tls.key = key;
    ssl = tls;
  } else {
    // A CA file without KAFKA_SSL would silently connect in plaintext: say so instead.
    for (const name of ["KAFKA_SSL_CA_FILE", "KAFKA_SSL_CERT_FILE", "KAFKA_SSL_KEY_FILE"] as const) {
      if (env[name] !== undefined) problems.push({ path: name, message: "is set but KAFKA_SSL is not true" });
    }
  }

  let sasl: KafkaSasl | undefined;
  const mechanism = env.KAFKA_SASL_MECHANISM;
  if (mechanism === undefined) {
    for (const name of ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_PASSWORD_FILE"] as const) {
      if (env[name] !== undefined)
        problems.push({
          path: name,
          message: "is set but KAFKA_SASL_MECHANISM is not (plain, scram-sha-256 or scram-sha-512)",
        });
    }
  } else {
    if (env.KAFKA_SASL_USERNAME === undefined) {
      problems.push({
        path: "KAFKA_SASL_USERNAME",
        message: `is required with KAFKA_SASL_MECHANISM=${mechanism}`,
      });
    }
    let password: string | undefined;
    if (env.KAFKA_SASL_PASSWORD !== undefined && env.KAFKA_SASL_PASSWORD_FILE !== undefined) {
      problems.push({
        path: "KAFKA_SASL_PASSWORD_FILE",
        message: "set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both",
      });
    } else if (env.KAFKA_SASL_PASSWORD_FILE !== undefined) {
      const content = await read("KAFKA_SASL_PASSWORD_FILE", env.KAFKA_SASL_PASSWORD_FILE);
      if (content !== undefined) password = secretFromFile(content);
    } else if (env.KAFKA_SASL_PASSWORD !== undefined) {
      password = env.KAFKA_SASL_PASSWORD;
    } else {
      problems.push({
        path: "KAFKA_SASL_PASSWORD",
        message: `is required with KAFKA_SASL_MECHANISM=${mechanism} (or KAFKA_SASL_PASSWORD_FILE)`,
      });
    }
    if (env.KAFKA_SASL_USERNAME !== undefined && password !== undefined) {
      sasl = { mechanism, username: env.KAFKA_SASL_USERNAME, password };
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { ...(ssl !== undefined ? { ssl } : {}), ...(sasl !== undefined ? { sasl } : {}) };
}
