import { createAdmin, createAuditLog } from "@handoff-sync/admin";
import { HttpIngestSchema } from "@handoff-sync/config";
import { createEventProducer, createKafkaClient, type EventProducer } from "@handoff-sync/kafka";
import { createDeliveryQueues } from "@handoff-sync/queue";
import { createStateCatalogue, DEFAULT_EVENT_LIMITS } from "@handoff-sync/schema";
import {
  createHandoffStore,
  createRedisClient,
  createScriptRunner,
  type RedisClient,
} from "@handoff-sync/store";
import { createLogger, createRegistry } from "@handoff-sync/telemetry";
import { freePort, testRedisTarget, uniqueName, waitFor } from "@handoff-sync/testing";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildApi, type Api } from "./app.js";
import { parseApiKeysEnv } from "./auth.js";
import { createChatAttempts } from "./chat-attempts.js";
import { createSharedRateLimiter } from "./rate-limit.js";
import { createSessionStore } from "./sessions.js";

const log = createLogger({ level: "silent", service: "api-ingest-test" });
const INGEST_KEY = "test-ingest-key-0123456789";
const OTHER_INGEST_KEY = "test-ingest-key-other-0123";
const keys = parseApiKeysEnv(
  `sbc:ingest:${INGEST_KEY},chat:ingest:${OTHER_INGEST_KEY},root:admin:admin-key-0123456789`,
);

interface Ingest {
  readonly app: Api;
  readonly url: string;
  readonly producer: EventProducer;
}

/** The API as main.ts wires it, with HTTP ingestion producing to `brokers`. */
async function startIngestApi(
  connection: RedisClient,
  prefix: string,
  topic: string,
  brokers: string,
  ingest: Record<string, unknown> = {},
): Promise<Ingest> {
  const store = createHandoffStore({ redis: connection, prefix, retentionMs: 600_000 });
  const queues = createDeliveryQueues({ connection, prefix, destinations: {} });
  const admin = createAdmin({
    store,
    queues,
    audit: createAuditLog({ redis: connection, key: store.keys.audit(), log }),
    log,
    source: { topic, rejectedTopic: `${topic}.dlq`, groupId: "unused" },
  });
  const settings = HttpIngestSchema.parse({ produce_timeout_ms: 1500, retry_after_s: 2, ...ingest });
  const kafka = createKafkaClient({ brokers: [brokers], clientId: "ingest-test", log });
  const producer = createEventProducer({ kafka, log, timeoutMs: settings.produce_timeout_ms });
  const app = buildApi({
    admin,
    queues,
    log,
    checks: {},
    registry: createRegistry("api"),
    keys: { current: () => keys },
    sessions: createSessionStore(connection, (hash) => store.keys.session(hash), 60_000),
    auth: { failureLimit: 5, globalFailureLimit: 100, failureWindowMs: 60_000, maxLockoutMs: 5000 },
    sessionTtlMs: 60_000,
    secureCookies: false,
    trustProxy: false,
    ingest: {
      target: { topic },
      producer,
      settings,
      catalogue: createStateCatalogue({ customer_refund: "initiated" }),
      maxMessageBytes: 4096,
      limits: DEFAULT_EVENT_LIMITS,
      chatAttempts: createChatAttempts(
        connection,
        (id) => store.keys.chatAttempt(id),
        settings.chat_close.ttl_ms,
      ),
      ...(settings.rate_limit.shared
        ? {
            limiter: createSharedRateLimiter({
              scripts: createScriptRunner(connection),
              keyOf: (client) => store.keys.ingestRate(client),
              settings: { perSecond: settings.rate_limit.per_second, burst: settings.rate_limit.burst },
              log,
            }),
          }
        : {}),
    },
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { app, url, producer };
}

describe("HTTP ingestion (in process, real Kafka and Redis)", () => {
  const brokers = inject("kafkaBrokers");
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  const kafka = new Kafka({
    clientId: "ingest-test-reader",
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING,
  });
  const topic = uniqueName("ingest-events");
  const prefix = uniqueName("t");
  let live: Ingest;

  const post = (base: Ingest, path: string, body: unknown, key = INGEST_KEY, type = "application/json") =>
    fetch(`${base.url}${path}`, {
      method: "POST",
      headers: { "x-api-key": key, "content-type": type },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  /** Every record on the topic so far, read from the start by a fresh group. */
  const records = async (
    expected: number,
  ): Promise<{ key: string; value: Record<string, unknown>; by: string }[]> => {
    const consumer = kafka.consumer({ groupId: uniqueName("reader") });
    const seen: { key: string; value: Record<string, unknown>; by: string }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        seen.push({
          key: message.key?.toString() ?? "",
          value: JSON.parse(message.value?.toString() ?? "null") as Record<string, unknown>,
          by: message.headers?.["handoff-sync-ingested-by"]?.toString() ?? "",
        });
        return Promise.resolve();
      },
    });
    try {
      await waitFor(() => seen.length >= expected, { message: `${expected} records`, timeoutMs: 20_000 });
      // A moment more, so a record too many would show.
      await new Promise((r) => setTimeout(r, 500));
      return seen;
    } finally {
      await consumer.disconnect();
    }
  };

  const event = (id: string, state = "handoff_initiated") => ({
    schema_version: 1,
    event_id: `${id}-${state}`,
    id,
    shared_id: `s-${id}`,
    state,
    occurred_at: new Date().toISOString(),
    data: { customer_id: "12345" },
  });

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    live = await startIngestApi(connection, prefix, topic, brokers, {
      rate_limit: { per_second: 1, burst: 30 },
    });
  });
  afterAll(async () => {
    await live?.app.close();
    await live?.producer.close();
    connection.disconnect();
  });

  it("a Kafka outage answers 503 with Retry-After and changes nothing; the retry lands exactly once", async () => {
    // A broker address nothing listens on: the outage as the API sees it.
    const dead = await startIngestApi(connection, prefix, topic, `127.0.0.1:${await freePort()}`);
    const conversation = uniqueName("CONV");
    const answer = {
      conversation_id: conversation,
      response: "Transferring you.",
      end_conversation: true,
      handoff: { destination: "live_agent_queue", reason: "billing_question" },
    };
    try {
      const started = Date.now();
      const down = await post(dead, "/v1/ingest/events", event("outage-1"));
      expect(down.status).toBe(503);
      expect(down.headers.get("retry-after")).toBe("2");
      expect(down.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      // Bounded by produce_timeout_ms (1.5 s), not by kafkajs' own retries.
      expect(Date.now() - started).toBeLessThan(5000);
      const chatDown = await post(dead, "/v1/ingest/chat/respond", answer);
      expect(chatDown.status).toBe(503);
      // Nothing was remembered of the refused chat/respond: a close has nothing to end.
      const closeDown = await post(dead, "/v1/ingest/chat/close", { conversation_id: conversation });
      expect(closeDown.status).toBe(200);
    } finally {
      await dead.app.close();
      await dead.producer.close();
    }
    // The client retries once Kafka is back (here: through a healthy replica of the API).
    expect((await post(live, "/v1/ingest/events", event("outage-1"))).status).toBe(202);
    const respond = await post(live, "/v1/ingest/chat/respond", answer);
    expect(respond.status).toBe(202);
    const close = await post(live, "/v1/ingest/chat/close", { conversation_id: conversation });
    expect(close.status).toBe(202);
    const got = await records(3);
    expect(got.map((r) => [r.key, r.value["state"]])).toEqual([
      ["s-outage-1", "handoff_initiated"],
      [conversation, "handoff_initiated"],
      [conversation, "handoff_completed"],
    ]);
    expect(got.every((r) => r.by === "sbc")).toBe(true);
    // What is on the topic is a native event the consumer accepts as it is.
    expect(got[0]?.value).toMatchObject({ ...event("outage-1"), occurred_at: expect.any(String) as unknown });
  });

  it("rejects as the consumer would: reasons, statuses, the body limit, the scope", async () => {
    const deep = (depth: number): unknown => (depth === 0 ? "x" : { a: deep(depth - 1) });
    const cases: [unknown, string, number, string][] = [
      ["", "application/json", 400, "empty"],
      ["{not json", "application/json", 400, "invalid_json"],
      [{ ...event("r1"), state: "nope" }, "application/json", 422, "unknown_state"],
      [{ ...event("r2"), id: undefined }, "application/json", 422, "schema_violation"],
      [
        { ...event("r3"), occurred_at: new Date(Date.now() + 3_600_000 * 48).toISOString() },
        "application/json",
        422,
        "clock_skew",
      ],
      [{ ...event("r4"), data: { deep: deep(40) } }, "application/json", 422, "too_deep"],
      [{ ...event("r5"), data: { note: "x".repeat(4500) } }, "application/json", 413, "oversize"],
    ];
    for (const [body, type, status, reason] of cases) {
      const response = await post(live, "/v1/ingest/events", body, INGEST_KEY, type);
      const problem = (await response.json()) as Record<string, unknown>;
      expect({ status: response.status, reason: problem["reason"] }, JSON.stringify(problem)).toEqual({
        status,
        reason,
      });
      expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
    const huge = await post(live, "/v1/ingest/events", {
      ...event("r6"),
      data: { note: "x".repeat(70_000) },
    });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ reason: "oversize" });
    const admin = await post(live, "/v1/ingest/events", event("r7"), "admin-key-0123456789");
    expect(admin.status).toBe(403);
    const sip = await post(live, "/v1/ingest/sip", { headers: { "Call-ID": "x" } });
    expect(sip.status).toBe(404);
  });

  it("limits each key's rate with 429 and Retry-After, leaving other keys alone", async () => {
    const results: number[] = [];
    for (let i = 0; i < 40; i++) {
      const response = await post(live, "/v1/ingest/chat/respond", {
        conversation_id: "c",
        end_conversation: false,
      });
      results.push(response.status);
      if (response.status === 429) {
        expect(response.headers.get("retry-after")).toBe("1");
        break;
      }
    }
    expect(results.at(-1)).toBe(429);
    const other = await post(
      live,
      "/v1/ingest/chat/respond",
      { conversation_id: "c", end_conversation: false },
      OTHER_INGEST_KEY,
    );
    expect(other.status).toBe(200);
  });

  it("holds one key's rate across api replicas, which draw from one bucket in Redis", async () => {
    const replica = await startIngestApi(connection, prefix, topic, brokers, {
      rate_limit: { per_second: 1, burst: 30 },
    });
    try {
      const statuses: number[] = [];
      // Alternating replicas: with a bucket per replica, 60 requests would pass before the first 429.
      for (let i = 0; i < 50 && !statuses.includes(429); i++) {
        const response = await post(
          i % 2 === 0 ? live : replica,
          "/v1/ingest/chat/respond",
          { conversation_id: "r", end_conversation: false },
          OTHER_INGEST_KEY,
        );
        statuses.push(response.status);
      }
      expect(statuses.at(-1)).toBe(429);
      // One burst of 30 (the test before spent a token of this key), and at most a few tokens
      // refilled while the requests ran; two buckets would have let twice the burst through.
      const passed = statuses.filter((status) => status === 200).length;
      expect(passed).toBeGreaterThanOrEqual(25);
      expect(passed).toBeLessThanOrEqual(33);
    } finally {
      await replica.app.close();
      await replica.producer.close();
    }
  });
});
