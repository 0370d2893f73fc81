import { spawn, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, mkdir, open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { freePort } from "./ports.js";
import { localInfra } from "./provision.js";
import type { TestPki } from "./test-pki.js";
import { stoppable } from "./stoppable.js";

const run = promisify(execFile);
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

const JAVA_FLAGS = [
  "-Xms256m",
  "-Xmx384m",
  "-XX:+UseSerialGC",
  "-XX:TieredStopAtLevel=1",
  "-Djava.awt.headless=true",
];

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
  const dataDir = join(dir, "data");
  await mkdir(dataDir, { recursive: true });
  // The broker authenticates to its own listener as this user (inter-broker traffic).
  const broker = { name: "broker", password: randomBytes(12).toString("hex") };
  const plainUsers = { ...settings.plainUsers, [broker.name]: broker.password };
  const userEntries = Object.entries(plainUsers)
    .map(([name, password]) => `user_${name}=${quoted(password)}`)
    .join(" ");
  const properties = [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=SASL_SSL://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=SASL_SSL://127.0.0.1:${port}`,
    "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
    "controller.listener.names=CONTROLLER",
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
    `log.dirs=${dataDir}`,
    "num.partitions=1",
    "auto.create.topics.enable=true",
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    "num.network.threads=1",
    "num.io.threads=2",
  ];
  const propertiesFile = join(dir, "server.properties");
  await writeFile(propertiesFile, `${properties.join("\n")}\n`);
  const log4j = join(dir, "log4j2.properties");
  await writeFile(
    log4j,
    [
      "status = warn",
      "appender.out.type = Console",
      "appender.out.name = OUT",
      "appender.out.layout.type = PatternLayout",
      "appender.out.layout.pattern = [%d] %p %m (%c)%n",
      "rootLogger.level = WARN",
      "rootLogger.appenderRef.out.ref = OUT",
      "",
    ].join("\n"),
  );
  const java = ["java", ...JAVA_FLAGS, `-Dlog4j2.configurationFile=${log4j}`, "-cp", `${lib}/*`] as const;

  // KRaft stores SCRAM credentials in the metadata log, so they are created when storage is formatted.
  const clusterId = randomBytes(16).toString("base64url");
  const scram = Object.entries(settings.scramUsers).flatMap(([name, password]) => [
    "--add-scram",
    `SCRAM-SHA-512=[name=${name},password=${password}]`,
  ]);
  await run(
    java[0],
    [...java.slice(1), "kafka.tools.StorageTool", "format", "-t", clusterId, "-c", propertiesFile, ...scram],
    { timeout: 60_000 },
  );

  const logFile = join(dir, "kafka.log");
  const out = await open(logFile, "a");
  const child = spawn(java[0], [...java.slice(1), "kafka.Kafka", propertiesFile], {
    stdio: ["ignore", out.fd, out.fd],
  });
  await out.close();
  const { isRunning, stop } = stoppable(child, { killAfterMs: 10_000 });

  const brokers = `127.0.0.1:${port}`;
  const [probeUser, probePassword] = [broker.name, broker.password];
  const probe = new Kafka({
    clientId: "secure-kafka-probe",
    brokers: [brokers],
    ssl: { ca: await readFile(pki.caFile, "utf8") },
    sasl: { mechanism: "plain", username: probeUser, password: probePassword },
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (!isRunning())
      throw new Error(
        `secure Kafka exited during start-up:\n${(await readFile(logFile, "utf8")).slice(-4000)}`,
      );
    const admin = probe.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      await admin.disconnect();
      break;
    } catch (error) {
      await admin.disconnect().catch(() => undefined);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `secure Kafka not ready: ${String(error)}\n${(await readFile(logFile, "utf8")).slice(-4000)}`,
          { cause: error },
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return { brokers, logFile, stop };
}
