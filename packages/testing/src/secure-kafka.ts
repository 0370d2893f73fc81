import { randomBytes } from "node:crypto";
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchKraftBroker, SINGLE_NODE_PROPERTIES } from "./kraft-broker.js";
import { freePort } from "./ports.js";
import { localInfra } from "./provision.js";
import type { TestPki } from "./test-pki.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * The Kafka jars infra/local/up.sh caches. Runs the script when they are missing (a fresh clone),
 * so tests get the broker exactly as the local demo does; the version is read from the script.
 */
export async function localKafkaLib(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const script = await readFile(join(repoRoot, "infra/local/up.sh"), "utf8");
  const version = /^KAFKA_VERSION="([^"]+)"/m.exec(script)?.[1];
  if (version === undefined) throw new Error("KAFKA_VERSION not found in infra/local/up.sh");
  const home = join(env.HANDOFF_LOCAL_DIR ?? join(repoRoot, ".local"), `kafka-${version}`);
  const present = await access(join(home, ".lib-complete")).then(
    () => true,
    () => false,
  );
  if (!present) await localInfra(env);
  return join(home, "lib");
}

export interface SecureKafkaSettings {
  /** An empty folder for the broker's configuration, data and log. */
  readonly dir: string;
  readonly pki: TestPki;
  /** Users the PLAIN mechanism accepts. */
  readonly plainUsers: Readonly<Record<string, string>>;
  /** Users created with SCRAM-SHA-512 credentials at format time. */
  readonly scramUsers: Readonly<Record<string, string>>;
}

export interface SecureKafka {
  readonly brokers: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

// JAAS values sit inside double quotes.
const quoted = (value: string): string => `"${value.replace(/["\\]/g, "\\$&")}"`;

/**
 * Starts a single-node KRaft broker whose only client listener is SASL_SSL (PLAIN and
 * SCRAM-SHA-512), with a PEM keystore signed by the test CA, on free ports. Resolves once a
 * SASL_SSL client can list topics.
 */
export async function startSecureKafka(settings: SecureKafkaSettings): Promise<SecureKafka> {
  const lib = await localKafkaLib();
  const [port, controllerPort] = [await freePort(), await freePort()];
  const { dir, pki } = settings;
  // The broker authenticates to its own listener as this user (inter-broker traffic).
  const broker = { name: "broker", password: randomBytes(12).toString("hex") };
  const plainUsers = { ...settings.plainUsers, [broker.name]: broker.password };
  const userEntries = Object.entries(plainUsers)
    .map(([name, password]) => `user_${name}=${quoted(password)}`)
    .join(" ");
  const properties = [
    ...SINGLE_NODE_PROPERTIES,
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=SASL_SSL://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=SASL_SSL://127.0.0.1:${port}`,
    "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name=SASL_SSL",
    "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
    "sasl.mechanism.inter.broker.protocol=PLAIN",
    `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=${quoted(broker.name)} password=${quoted(broker.password)} ${userEntries};`,
    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
    "ssl.keystore.type=PEM",
    `ssl.keystore.location=${pki.serverKeystoreFile}`,
    "ssl.truststore.type=PEM",
    `ssl.truststore.location=${pki.caFile}`,
    "ssl.client.auth=none",
    "num.partitions=1",
    "offsets.topic.num.partitions=1",
  ];
  // KRaft stores SCRAM credentials in the metadata log, so they are created when storage is formatted.
  const formatArgs = Object.entries(settings.scramUsers).flatMap(([name, password]) => [
    "--add-scram",
    `SCRAM-SHA-512=[name=${name},password=${password}]`,
  ]);
  const brokers = `127.0.0.1:${port}`;
  const { logFile, stop } = await launchKraftBroker({
    dir,
    lib,
    properties,
    formatArgs,
    label: "secure Kafka",
    probe: {
      brokers: [brokers],
      ssl: { ca: await readFile(pki.caFile, "utf8") },
      sasl: { mechanism: "plain", username: broker.name, password: broker.password },
    },
  });
  return { brokers, logFile, stop };
}

export interface PlainKafka {
  readonly brokers: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

/**
 * Starts a new single-node PLAINTEXT broker on free ports, configured as infra/local/up.sh
 * configures the demo's: for tests that need a broker in the state a fresh machine has (no
 * `__consumer_offsets` yet, no group ever joined), which the shared test broker left long ago.
 */
export async function startPlainKafka(dir: string): Promise<PlainKafka> {
  const lib = await localKafkaLib();
  const [port, controllerPort] = [await freePort(), await freePort()];
  const brokers = `127.0.0.1:${port}`;
  const { logFile, stop } = await launchKraftBroker({
    dir,
    lib,
    label: "plain Kafka",
    properties: [
      ...SINGLE_NODE_PROPERTIES,
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://${brokers}`,
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
      "inter.broker.listener.name=PLAINTEXT",
      "num.partitions=3",
      "offsets.topic.num.partitions=4",
      "transaction.state.log.num.partitions=4",
    ],
    probe: { brokers: [brokers] },
  });
  return { brokers, logFile, stop };
}
