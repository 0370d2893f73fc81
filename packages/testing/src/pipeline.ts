import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { uniqueName } from "./names.js";
import { freePort } from "./ports.js";
import { redisEnv } from "./redis-cluster.js";
import { startService, type RunningService, type ServiceName } from "./services.js";

export const DEMO_SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWhhbmRvZmYtc3luYy10ZXN0cw==";

/** API keys the pipeline's api service accepts, one per scope. */
export const PIPELINE_API_KEYS = {
  read: "pipeline-read-key-0123456789",
  operate: "pipeline-operate-key-0123456789",
  admin: "pipeline-admin-key-0123456789",
  ingest: "pipeline-ingest-key-0123456789",
} as const;

export interface PipelineOptions {
  readonly kafkaBrokers: string;
  readonly redisUrl: string;
  /** `redisUrl` is a seed node of a Redis Cluster: the services get `REDIS_CLUSTER=true`. */
  readonly redisCluster?: boolean;
  /** Extra YAML appended to the destinations file, e.g. `states:` declarations. */
  readonly statesYaml?: string;
  /** Extra YAML inside `source:`, indented by two spaces, e.g. `  format: chat_respond`. */
  readonly sourceYaml?: string;
  /** Settings of the `crm` webhook destination's retry policy. */
  readonly retry?: { attempts: number; base_delay_ms: number; max_delay_ms: number };
  readonly env?: Record<string, string>;
  /** `source.max_message_bytes`; 4096 when omitted. */
  readonly maxMessageBytes?: number;
  /** Deliver to this URL (e.g. a fake with faults) instead of starting the demo CRM. */
  readonly receiverUrl?: string;
  /** More destinations, YAML indented by two spaces under `destinations:` (e.g. a CRM fake). */
  readonly destinationsYaml?: string;
}

/** A write the demo CRM received, as its `GET /deliveries` reports it. */
export interface ReceivedDelivery {
  readonly webhookId: string;
  readonly duplicate: boolean;
  readonly key: string;
  readonly version: number;
  readonly state: string;
  readonly data: Record<string, unknown>;
}

interface ReceiverRecord {
  readonly webhookId: string;
  readonly duplicate: boolean;
  readonly payload: { data: { key: string; version: number; state: string; data: Record<string, unknown> } };
}

export interface Pipeline {
  readonly topic: string;
  readonly rejectedTopic: string;
  readonly groupId: string;
  readonly prefix: string;
  readonly kafka: Kafka;
  readonly env: Record<string, string>;
  readonly services: Map<ServiceName, RunningService>;
  readonly apiUrl: string;
  /** The configuration file the services read; tests may rewrite it and restart a service. */
  readonly configPath: string;
  /** Calls the running api service with the key of the given scope (admin by default). */
  api(path: string, init?: RequestInit & { scope?: keyof typeof PIPELINE_API_KEYS }): Promise<Response>;
  produce(events: readonly unknown[], key?: (event: unknown, index: number) => string): Promise<void>;
  produceRaw(values: readonly (string | Buffer | null)[], key?: (index: number) => string): Promise<void>;
  deliveries(): Promise<ReceivedDelivery[]>;
  start(name: ServiceName): Promise<RunningService>;
  stop(): Promise<void>;
}

/**
 * The whole pipeline as production runs it, each service a child process from its built entry
 * point, on topics, a consumer group and a Redis prefix of its own.
 */
export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const topic = uniqueName("handoff-events");
  const rejectedTopic = `${topic}.dlq`;
  const groupId = uniqueName("group");
  const prefix = uniqueName("t");
  const crmPort = await freePort();
  const retry = options.retry ?? { attempts: 5, base_delay_ms: 200, max_delay_ms: 2000 };
  const dir = await mkdtemp(join(tmpdir(), "handoff-sync-"));
  const configPath = join(dir, "destinations.yaml");
  await writeFile(
    configPath,
    [
      "version: 1",
      "source:",
      `  topic: ${topic}`,
      `  rejected_topic: ${rejectedTopic}`,
      `  max_message_bytes: ${options.maxMessageBytes ?? 4096}`,
      ...(options.sourceYaml !== undefined ? [options.sourceYaml] : []),
      "states:",
      "  customer_refund: initiated",
      options.statesYaml ?? "",
      "destinations:",
      "  crm:",
      "    type: webhook",
      `    url: ${options.receiverUrl ?? `http://127.0.0.1:${crmPort}/hooks`}`,
      "    secret: env:DEMO_WEBHOOK_SECRET",
      "    allow_private_network: true",
      "    timeout_ms: 5000",
      "    retry:",
      `      attempts: ${retry.attempts}`,
      `      base_delay_ms: ${retry.base_delay_ms}`,
      `      max_delay_ms: ${retry.max_delay_ms}`,
      ...(options.destinationsYaml !== undefined ? [options.destinationsYaml] : []),
      "",
    ].join("\n"),
  );
  const kafka = new Kafka({
    clientId: "pipeline-test",
    brokers: options.kafkaBrokers.split(","),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic, numPartitions: 3 },
      { topic: rejectedTopic, numPartitions: 1 },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();

  const env: Record<string, string> = {
    KAFKA_BROKERS: options.kafkaBrokers,
    ...redisEnv(options.redisUrl, options.redisCluster ?? false),
    REDIS_PREFIX: prefix,
    KAFKA_GROUP_ID: groupId,
    HANDOFF_SYNC_CONFIG: configPath,
    DEMO_WEBHOOK_SECRET: DEMO_SECRET,
    LOG_LEVEL: "info",
    KAFKA_SESSION_TIMEOUT_MS: "8000",
    KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
    WORKER_SWEEP_INTERVAL_MS: "1000",
    HANDOFF_API_KEYS: Object.entries(PIPELINE_API_KEYS)
      .map(([scope, key]) => `pipeline-${scope}:${scope}:${key}`)
      .join(","),
    HANDOFF_API_SECURE_COOKIES: "false",
    HANDOFF_API_ACCOUNT_ID: "acme",
    HANDOFF_API_PROJECT_ID: "support",
    ...options.env,
  };
  const ports = new Map<ServiceName, number>([
    ["demo-crm", crmPort],
    ["consumer", await freePort()],
    ["worker", await freePort()],
    ["api", await freePort()],
  ]);
  const services = new Map<ServiceName, RunningService>();
  const start = async (name: ServiceName): Promise<RunningService> => {
    const port = ports.get(name) ?? (await freePort());
    const service = await startService(name, env, {
      port,
      ...(name === "demo-crm" ? { readyPath: "/healthz" } : {}),
    });
    services.set(name, service);
    return service;
  };
  const names: ServiceName[] =
    options.receiverUrl === undefined
      ? ["demo-crm", "consumer", "worker", "api"]
      : ["consumer", "worker", "api"];
  await Promise.all(names.map((name) => start(name)));

  return {
    topic,
    rejectedTopic,
    groupId,
    prefix,
    kafka,
    env,
    services,
    apiUrl: `http://127.0.0.1:${ports.get("api") ?? 0}`,
    configPath,
    async api(path, init = {}) {
      const { scope = "admin", ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set("x-api-key", PIPELINE_API_KEYS[scope]);
      if (rest.body !== undefined && !headers.has("content-type"))
        headers.set("content-type", "application/json");
      return fetch(`http://127.0.0.1:${ports.get("api") ?? 0}${path}`, { ...rest, headers });
    },
    async produce(events, key) {
      await producer.send({
        topic,
        messages: events.map((event, index) => {
          const e = event as { shared_id?: string; id?: string };
          return {
            key: key ? key(event, index) : (e.shared_id ?? e.id ?? null),
            value: JSON.stringify(event),
          };
        }),
      });
    },
    async produceRaw(values, key) {
      await producer.send({
        topic,
        messages: values.map((value, index) => ({ key: key ? key(index) : "raw", value })),
      });
    },
    async deliveries() {
      const response = await fetch(`http://127.0.0.1:${crmPort}/deliveries`);
      const records = (await response.json()) as ReceiverRecord[];
      return records.map((r) => ({
        webhookId: r.webhookId,
        duplicate: r.duplicate,
        key: r.payload.data.key,
        version: r.payload.data.version,
        state: r.payload.data.state,
        data: r.payload.data.data,
      }));
    },
    start,
    async stop() {
      await producer.disconnect();
      await Promise.all([...services.values()].map((service) => service.stop()));
    },
  };
}
