import { spawn, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { Kafka, logLevel, type KafkaConfig } from "kafkajs";
import { stoppable } from "./stoppable.js";

const run = promisify(execFile);

const JAVA_FLAGS = [
  "-Xms256m",
  "-Xmx384m",
  "-XX:+UseSerialGC",
  "-XX:TieredStopAtLevel=1",
  "-Djava.awt.headless=true",
];

/** The settings every single-node broker a test starts shares (kept as infra/local/up.sh has them). */
export const SINGLE_NODE_PROPERTIES: readonly string[] = [
  "process.roles=broker,controller",
  "node.id=1",
  "controller.listener.names=CONTROLLER",
  "auto.create.topics.enable=true",
  "offsets.topic.replication.factor=1",
  "transaction.state.log.replication.factor=1",
  "transaction.state.log.min.isr=1",
  "share.coordinator.state.topic.replication.factor=1",
  "share.coordinator.state.topic.min.isr=1",
  "group.initial.rebalance.delay.ms=0",
  "num.network.threads=1",
  "num.io.threads=2",
];

export interface KraftBrokerLaunch {
  /** An empty folder for the broker's configuration, data and log. */
  readonly dir: string;
  /** The folder of the Kafka jars (localKafkaLib). */
  readonly lib: string;
  /** server.properties lines beyond `log.dirs`, which is set to a folder inside `dir`. */
  readonly properties: readonly string[];
  /** Extra arguments to `StorageTool format` (SCRAM credentials live in the metadata log). */
  readonly formatArgs?: readonly string[];
  /** How a client reaches the broker, to prove it answers before the launch resolves. */
  readonly probe: Pick<KafkaConfig, "brokers" | "ssl" | "sasl">;
  /** For messages: what kind of broker this is. */
  readonly label: string;
}

export interface KraftBroker {
  readonly logFile: string;
  readonly stop: () => Promise<void>;
}

/**
 * Formats storage and starts a KRaft broker from the cached jars; resolves once a client can list
 * topics, and fails with the tail of the broker's log when it exits or is not ready in 90 s.
 */
/**
 * A KRaft cluster id: 16 random bytes in base64url, as Kafka's `Uuid.randomUuid` makes them, and
 * like it never starting with `-`, which `StorageTool format -t` would read as an option.
 */
export function kraftClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

export async function launchKraftBroker(launch: KraftBrokerLaunch): Promise<KraftBroker> {
  const { dir } = launch;
  const dataDir = join(dir, "data");
  await mkdir(dataDir, { recursive: true });
  const propertiesFile = join(dir, "server.properties");
  await writeFile(propertiesFile, `${[...launch.properties, `log.dirs=${dataDir}`].join("\n")}\n`);
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
  const java = [
    "java",
    ...JAVA_FLAGS,
    `-Dlog4j2.configurationFile=${log4j}`,
    "-cp",
    `${launch.lib}/*`,
  ] as const;

  const clusterId = kraftClusterId();
  await run(
    java[0],
    [
      ...java.slice(1),
      "kafka.tools.StorageTool",
      "format",
      "-t",
      clusterId,
      "-c",
      propertiesFile,
      ...(launch.formatArgs ?? []),
    ],
    { timeout: 60_000 },
  );

  const logFile = join(dir, "kafka.log");
  const out = await open(logFile, "a");
  const child = spawn(java[0], [...java.slice(1), "kafka.Kafka", propertiesFile], {
    stdio: ["ignore", out.fd, out.fd],
  });
  await out.close();
  const { isRunning, stop } = stoppable(child, { killAfterMs: 10_000 });

  const probe = new Kafka({
    clientId: "kraft-broker-probe",
    ...launch.probe,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (!isRunning())
      throw new Error(
        `${launch.label} exited during start-up:\n${(await readFile(logFile, "utf8")).slice(-4000)}`,
      );
    const admin = probe.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      await admin.disconnect();
      return { logFile, stop };
    } catch (error) {
      await admin.disconnect().catch(() => undefined);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `${launch.label} not ready: ${String(error)}\n${(await readFile(logFile, "utf8")).slice(-4000)}`,
          { cause: error },
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
