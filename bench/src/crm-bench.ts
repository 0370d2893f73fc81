import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  startFakeHubSpot,
  uniqueName,
  waitFor,
  type FakeHubSpot,
  type RunningService,
} from "@handoff-sync/testing";
import { Partitioners, type Kafka, type Producer } from "kafkajs";
import { drainRate, type DrainRate } from "./crm-stats.js";
import { createEventSource, type EventSource } from "./events.js";
import { receiptLog, recordingSource, type ReceiptLog } from "./hubspot-receipts.js";
import { createTopics, deleteTopics, produceBurst, produceOpenLoop } from "./kafka.js";
import type { OpenLoopRun } from "./pipeline-bench.js";
import { removePrefix } from "./prefix.js";
import { startBenchService } from "./services.js";
import { summariseLatency } from "./stats.js";

/**
 * HubSpot's limits for a private app on a Free or Starter account, from HubSpot's "API usage
 * guidelines and limits": 100 requests per rolling ten seconds and 250,000 a day. The lowest
 * documented tier (Professional and Enterprise allow 190 per ten seconds): where a CRM-bound
 * destination runs out of requests first.
 */
export const HUBSPOT_LIMITS = { tenSecondly: 100, daily: 250_000 } as const;

/** How long a batch waits to fill: HubSpot's default for `batch: {}` (decision 0050). */
const BATCH_MAX_WAIT_MS = 200;
const HUBSPOT_TOKEN = "pat-na1-fake";

export interface CrmSettings {
  readonly kafkaBrokers: string;
  readonly redisUrl: string;
  /** Handoffs preloaded for each drain. */
  readonly events: number;
  readonly drainSeconds: number;
  readonly rate: number;
  readonly openLoopSeconds: number;
  readonly latencyMs: number;
  readonly partitions: number;
  readonly concurrency: number;
  /** When set, the services run with `--cpu-prof` and write their profiles here. */
  readonly profileDir?: string;
  readonly progress: (message: string) => void;
}

export interface CrmDrain {
  readonly throughput: DrainRate;
  /** Requests HubSpot received over the drain, and the 429s it answered among them. */
  readonly requests: number;
  readonly rateLimited: number;
  /** Handoffs written per request HubSpot accepted: how full the batches were. */
  readonly handoffsPerRequest: number;
}

export interface CrmOpenLoop extends OpenLoopRun {
  readonly requests: number;
  readonly rateLimited: number;
  readonly handoffsPerRequest: number;
}

export interface CrmRun {
  readonly hubspot: { readonly tenSecondly: number; readonly daily: number; readonly latencyMs: number };
  readonly unbatched: CrmDrain;
  readonly batched: CrmDrain;
  /** Batched handoffs/s over unbatched. */
  readonly ratio: number;
  /** The batched destination at a constant rate: `occurred_at` to HubSpot's receipt. */
  readonly openLoop: CrmOpenLoop;
  /** Writes HubSpot received beyond one per handoff (at-least-once redeliveries). */
  readonly duplicates: number;
}

type Mode = "unbatched" | "batched";

async function writeConfig(
  dir: string,
  topic: string,
  hubspotUrl: string,
  concurrency: number,
  mode: Mode,
): Promise<string> {
  const path = join(dir, "destinations.yaml");
  await writeFile(
    path,
    [
      "version: 1",
      "source:",
      `  topic: ${topic}`,
      `  rejected_topic: ${topic}.dlq`,
      "destinations:",
      "  hubspot:",
      "    type: hubspot",
      `    base_url: ${hubspotUrl}`,
      "    auth:",
      "      method: private_app",
      "      token: env:BENCH_HUBSPOT_TOKEN",
      "    allow_private_network: true",
      `    concurrency: ${concurrency}`,
      "    timeout_ms: 5000",
      // No figures: the budget paces on what HubSpot's X-HubSpot-RateLimit-* headers report.
      "    budget: {}",
      ...(mode === "batched"
        ? ["    batch:", "      max_size: 100", `      max_wait_ms: ${BATCH_MAX_WAIT_MS}`]
        : []),
      "",
    ].join("\n"),
  );
  return path;
}

/** What HubSpot saw between two moments: requests, 429s, and the batch fill. */
interface Counters {
  readonly requests: number;
  readonly rateLimited: number;
}
const countersOf = (hubspot: FakeHubSpot): Counters => ({
  requests: hubspot.requests.length,
  rateLimited: hubspot.rateLimited(),
});
const since = (hubspot: FakeHubSpot, before: Counters, writes: number) => {
  const requests = hubspot.requests.length - before.requests;
  const rateLimited = hubspot.rateLimited() - before.rateLimited;
  const accepted = requests - rateLimited;
  return { requests, rateLimited, handoffsPerRequest: accepted > 0 ? writes / accepted : 0 };
};

interface Session {
  readonly hubspot: FakeHubSpot;
  readonly receipts: ReceiptLog;
  readonly source: EventSource;
  readonly producer: Producer;
  readonly topic: string;
  /** Starts the consumer and the worker. */
  start(): Promise<void>;
}

/**
 * One HubSpot destination served by the consumer and worker started as processes from their
 * production entry points, against a fresh HubSpot fake (its own rate-limit windows), topic and
 * Redis prefix; everything is stopped and removed afterwards.
 */
async function withSession<T>(
  kafka: Kafka,
  settings: CrmSettings,
  mode: Mode,
  work: (session: Session) => Promise<T>,
): Promise<T> {
  const topic = uniqueName(`bench-crm-${mode}`);
  const prefix = uniqueName("bench-crm");
  const dir = await mkdtemp(join(tmpdir(), "handoff-sync-bench-crm-"));
  const hubspot = await startFakeHubSpot({ rateLimits: HUBSPOT_LIMITS, latencyMs: settings.latencyMs });
  const occurredAt = new Map<string, number>();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const services: RunningService[] = [];
  try {
    await createTopics(kafka, [topic], settings.partitions);
    await createTopics(kafka, [`${topic}.dlq`], 1);
    await producer.connect();
    const env: Record<string, string> = {
      KAFKA_BROKERS: settings.kafkaBrokers,
      REDIS_URL: settings.redisUrl,
      REDIS_PREFIX: prefix,
      KAFKA_GROUP_ID: uniqueName("bench-crm-consumer"),
      KAFKA_PARTITIONS_CONCURRENCY: String(settings.partitions),
      KAFKA_CREATE_TOPICS: "false",
      HANDOFF_SYNC_CONFIG: await writeConfig(dir, topic, hubspot.url, settings.concurrency, mode),
      BENCH_HUBSPOT_TOKEN: HUBSPOT_TOKEN,
      LOG_LEVEL: "info",
      // The unbatched worker still holds jobs waiting for the budget when the drain is over.
      WORKER_DRAIN_TIMEOUT_MS: "2000",
    };
    return await work({
      hubspot,
      receipts: receiptLog(hubspot.writes, occurredAt),
      source: recordingSource(createEventSource(`crm-${mode}`), occurredAt),
      producer,
      topic,
      start: async () => {
        for (const name of ["consumer", "worker"] as const) {
          services.push(
            await startBenchService(name, env, {
              dir: settings.profileDir,
              name: `crm-${mode}-${name}-${prefix}`,
            }),
          );
        }
      },
    });
  } finally {
    await Promise.all(services.map((service) => service.stop()));
    await producer.disconnect();
    await hubspot.close();
    await deleteTopics(kafka, [topic, `${topic}.dlq`]);
    await removePrefix(settings.redisUrl, prefix);
    await rm(dir, { recursive: true, force: true });
  }
}

const POLL_MS = 50;

/** Preloads the backlog, starts the services, and counts receipts until it drained or the span ended. */
async function drain(session: Session, settings: CrmSettings, mode: Mode): Promise<CrmDrain> {
  const { hubspot, receipts } = session;
  const spanMs = settings.drainSeconds * 1000;
  settings.progress(`hubspot ${mode}: preloading ${settings.events} handoffs, starting consumer and worker`);
  await produceBurst(session.producer, session.topic, session.source, settings.events);
  receipts.reset();
  const before = countersOf(hubspot);
  await session.start();
  const first = await waitFor(
    () => {
      receipts.poll();
      return receipts.firstArrivalMs();
    },
    { timeoutMs: 60_000, intervalMs: POLL_MS, message: `the first ${mode} handoff at HubSpot` },
  );
  await waitFor(
    () => {
      receipts.poll();
      return receipts.received() >= settings.events || Date.now() >= first + spanMs;
    },
    { timeoutMs: spanMs + 60_000, intervalMs: POLL_MS, message: `the ${mode} drain` },
  );
  const throughput = drainRate(receipts.arrivals(), settings.events, spanMs);
  const counted = since(hubspot, before, receipts.writes());
  settings.progress(
    `hubspot ${mode}: ${throughput.events} handoffs in ${Math.round(throughput.durationMs)} ms (${throughput.rate.toFixed(1)}/s${throughput.drained ? "" : ", backlog not drained"}), ${counted.requests} requests, ${counted.rateLimited} answered 429`,
  );
  return { throughput, ...counted };
}

async function openLoop(session: Session, settings: CrmSettings): Promise<CrmOpenLoop> {
  const { hubspot, receipts } = session;
  settings.progress(`hubspot batched: open loop at ${settings.rate}/s for ${settings.openLoopSeconds} s`);
  receipts.reset();
  const before = countersOf(hubspot);
  const open = await produceOpenLoop(
    session.producer,
    session.topic,
    session.source,
    settings.rate,
    settings.openLoopSeconds,
  );
  await waitFor(
    () => {
      receipts.poll();
      return receipts.received() >= open.sent;
    },
    { timeoutMs: 60_000, intervalMs: POLL_MS, message: "the open loop's handoffs at HubSpot" },
  );
  const latencyMs = summariseLatency(receipts.latencies());
  const valid = open.achievedRate >= 0.95 * open.offered;
  const counted = since(hubspot, before, receipts.writes());
  settings.progress(
    `hubspot batched: open loop achieved ${Math.round(open.achievedRate)}/s${valid ? "" : " (INVALID)"}, p50 ${latencyMs.p50} ms, p99 ${latencyMs.p99} ms, ${counted.requests} requests, ${counted.rateLimited} answered 429`,
  );
  return {
    offeredRate: open.offered,
    achievedRate: open.achievedRate,
    sent: open.sent,
    valid,
    latencyMs,
    ...counted,
  };
}

/**
 * The CRM-bound phase (issue 11): one HubSpot destination with a request budget learning from
 * HubSpot's headers, against the HubSpot fake at HubSpot's real limits and a realistic latency.
 * The same backlog is drained unbatched, then batched (`max_size` 100); then an open loop at a
 * constant rate runs through the batched one. Each drain gets fresh services and a fresh fake, so
 * neither inherits the other's rate-limit window.
 */
export async function benchCrm(kafka: Kafka, settings: CrmSettings): Promise<CrmRun> {
  let duplicates = 0;
  const unbatched = await withSession(kafka, settings, "unbatched", async (session) => {
    const result = await drain(session, settings, "unbatched");
    duplicates += session.receipts.writes() - session.receipts.received();
    return result;
  });
  const { batched, open } = await withSession(kafka, settings, "batched", async (session) => {
    const drained = await drain(session, settings, "batched");
    duplicates += session.receipts.writes() - session.receipts.received();
    const loop = await openLoop(session, settings);
    duplicates += session.receipts.writes() - session.receipts.received();
    return { batched: drained, open: loop };
  });
  return {
    hubspot: { ...HUBSPOT_LIMITS, latencyMs: settings.latencyMs },
    unbatched,
    batched,
    ratio: unbatched.throughput.rate > 0 ? batched.throughput.rate / unbatched.throughput.rate : Number.NaN,
    openLoop: open,
    duplicates,
  };
}
