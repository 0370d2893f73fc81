import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import {
  DEMO_SECRET,
  PIPELINE_API_KEYS,
  startFakeServer,
  startPipeline,
  uniqueName,
  waitFor,
  type FakeServer,
  type Pipeline,
} from "@handoff-sync/testing";
import { Partitioners } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

// Evidence from outside: what the child processes send to a collector, what the CRM receives and
// what the services print; never what the code believes it did.

interface OtlpAttribute {
  readonly key: string;
  readonly value: {
    readonly stringValue?: string;
    readonly intValue?: number | string;
    readonly boolValue?: boolean;
  };
}

interface CollectedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly attributes: Readonly<Record<string, string | number | boolean | undefined>>;
}

interface OtlpBody {
  readonly resourceSpans?: readonly {
    readonly resource?: { readonly attributes?: readonly OtlpAttribute[] };
    readonly scopeSpans?: readonly {
      readonly spans?: readonly (Omit<CollectedSpan, "service" | "attributes"> & {
        attributes?: readonly OtlpAttribute[];
      })[];
    }[];
  }[];
}

function attributeValue(attribute: OtlpAttribute): string | number | boolean | undefined {
  const { stringValue, intValue, boolValue } = attribute.value;
  return stringValue ?? (intValue === undefined ? boolValue : Number(intValue));
}

/** A stand-in OpenTelemetry collector: OTLP/HTTP JSON on POST /v1/traces, kept in arrival order. */
async function startCollector(): Promise<{ url: string; spans: CollectedSpan[]; close(): Promise<void> }> {
  const spans: CollectedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(
        (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8"),
      ) as OtlpBody;
      for (const rs of body.resourceSpans ?? []) {
        const service = String(
          rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue,
        );
        for (const ss of rs.scopeSpans ?? []) {
          for (const span of ss.spans ?? []) {
            spans.push({
              service,
              traceId: span.traceId,
              spanId: span.spanId,
              ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
              name: span.name,
              attributes: Object.fromEntries((span.attributes ?? []).map((a) => [a.key, attributeValue(a)])),
            });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function event(sharedId: string, data: Record<string, unknown>): Record<string, unknown> {
  return {
    schema_version: 1,
    event_id: randomUUID(),
    id: `conv-${sharedId}`,
    shared_id: sharedId,
    state: "handoff_initiated",
    occurred_at: new Date().toISOString(),
    data,
  };
}

describe("tracing and logs of the running services (child processes, real Kafka and Redis)", () => {
  let pipeline: Pipeline;
  let crm: FakeServer;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  const crmTraceparents: (string | undefined)[] = [];

  beforeAll(async () => {
    collector = await startCollector();
    crm = await startFakeServer((request) => {
      const header = request.headers.traceparent;
      crmTraceparents.push(typeof header === "string" ? header : undefined);
      return { status: 204 };
    });
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      receiverUrl: `${crm.url}/hooks`,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        LOG_LEVEL: "debug",
        LOG_REDACT_PATHS: "data.email,data.phone",
      },
    });
  });
  afterAll(async () => {
    await pipeline.stop();
    await crm.close();
    await collector.close();
  });

  it("carries the producer's trace from the Kafka header through ingest and delivery to the CRM request", async () => {
    const traceId = randomBytes(16).toString("hex");
    const producerSpanId = randomBytes(8).toString("hex");
    const sharedId = uniqueName("traced");
    const producer = pipeline.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({
        topic: pipeline.topic,
        messages: [
          {
            key: sharedId,
            value: JSON.stringify(event(sharedId, { customer_id: "42" })),
            headers: { traceparent: `00-${traceId}-${producerSpanId}-01` },
          },
        ],
      });
    } finally {
      await producer.disconnect();
    }

    const sent = await waitFor(() => crmTraceparents.find((t) => t?.includes(traceId)), {
      timeoutMs: 30_000,
      message: "the CRM request with the trace",
    });
    const spans = await waitFor(
      () => {
        const inTrace = collector.spans.filter((s) => s.traceId === traceId);
        const ingest = inTrace.find((s) => s.name === "ingest");
        const deliver = inTrace.find((s) => s.name === "deliver crm");
        return ingest && deliver ? { ingest, deliver } : undefined;
      },
      { timeoutMs: 30_000, message: "ingest and deliver spans at the collector" },
    );

    // producer -> ingest (consumer) -> deliver (worker) -> the CRM request.
    expect(spans.ingest).toMatchObject({ service: "consumer", parentSpanId: producerSpanId });
    expect(spans.deliver).toMatchObject({
      service: "worker",
      parentSpanId: spans.ingest.spanId,
      attributes: {
        "handoff_sync.destination": "crm",
        "handoff_sync.handoff_key": sharedId,
        "handoff_sync.version": 1,
        "handoff_sync.attempt": 1,
        "handoff_sync.outcome": "delivered",
        "http.response.status_code": 204,
      },
    });
    expect(sent).toBe(`00-${traceId}-${spans.deliver.spanId}-01`);
  });

  it("starts a new trace for a record without a traceparent", async () => {
    const sharedId = uniqueName("untraced");
    const before = crmTraceparents.length;
    await pipeline.produce([event(sharedId, { customer_id: "7" })]);
    const deliver = await waitFor(
      () =>
        collector.spans.find(
          (s) => s.name === "deliver crm" && s.attributes["handoff_sync.handoff_key"] === sharedId,
        ),
      { timeoutMs: 30_000, message: "deliver span of the untraced record" },
    );
    const ingest = collector.spans.find((s) => s.spanId === deliver.parentSpanId);
    expect(ingest).toMatchObject({ name: "ingest", traceId: deliver.traceId });
    expect(ingest?.parentSpanId).toBeUndefined();
    expect(crmTraceparents.slice(before)).toContain(`00-${deliver.traceId}-${deliver.spanId}-01`);
  });

  it("logs each attempt once with its fields and never prints configured PII or credentials, at debug level", async () => {
    const sharedId = uniqueName("pii");
    const email = `jane.${randomBytes(4).toString("hex")}@example.com`;
    const phone = `+1 555 ${randomBytes(2).readUInt16BE(0)}`;
    await pipeline.produce([event(sharedId, { email, phone, customer_id: "C-77" })]);
    // The API is called with a key, so its logs had the chance to leak one.
    expect((await pipeline.api(`/v1/handoffs?shared_id=${sharedId}`, { scope: "read" })).status).toBeLessThan(
      500,
    );

    const lines = (): { service: string; text: string; json: Record<string, unknown> | undefined }[] =>
      [...pipeline.services.values()].flatMap((service) =>
        service.lines.map((text) => {
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          return { service: service.name, text, json };
        }),
      );
    const attempt = await waitFor(
      () => lines().find((l) => l.json?.msg === "delivery attempt" && l.json.handoffKey === sharedId),
      { timeoutMs: 30_000, message: "the delivery attempt line" },
    );
    expect(attempt.service).toBe("worker");
    expect(attempt.json).toMatchObject({
      level: "info",
      destination: "crm",
      attempt: 1,
      outcome: "delivered",
      status: 204,
    });
    expect(typeof attempt.json?.durationMs).toBe("number");
    expect(String(attempt.json?.traceId)).toMatch(/^[0-9a-f]{32}$/);

    // The handoff data does reach the logs at debug level, with the configured fields redacted.
    const ingested = lines().find((l) => l.json?.msg === "event ingested" && l.json.handoffKey === sharedId);
    expect(ingested?.json).toMatchObject({
      level: "debug",
      data: { email: "[Redacted]", phone: "[Redacted]", customer_id: "C-77" },
    });

    const everything = lines()
      .map((l) => l.text)
      .join("\n");
    for (const secret of [
      email,
      phone,
      DEMO_SECRET,
      DEMO_SECRET.replace(/^whsec_/, ""),
      ...Object.values(PIPELINE_API_KEYS),
    ]) {
      expect(everything.includes(secret), `logs contain ${secret}`).toBe(false);
    }
    expect(
      lines().filter((l) => l.json?.msg === "delivery attempt" && l.json.handoffKey === sharedId),
    ).toHaveLength(1);
  });
});
