import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { trace } from "@opentelemetry/api";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  contextFromTraceparent,
  NOOP_TRACER,
  startSpanFrom,
  startTracing,
  traceparentOf,
  type Tracing,
} from "./tracing.js";

// Records which parts of the SDK get loaded: a service without tracing must load none of them.
const loaded = vi.hoisted(() => new Set<string>());
vi.mock("@opentelemetry/sdk-trace", async (original) => {
  loaded.add("sdk-trace");
  return original();
});
vi.mock("@opentelemetry/exporter-trace-otlp-http", async (original) => {
  loaded.add("exporter");
  return original();
});

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

interface ExportedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
}

/** An OTLP/HTTP JSON receiver: what a collector would get, read off the wire. */
async function startCollector(): Promise<{
  url: string;
  posts: number;
  spans: ExportedSpan[];
  services: string[];
  server: Server;
}> {
  const state = {
    url: "",
    posts: 0,
    spans: [] as ExportedSpan[],
    services: [] as string[],
    server: undefined as unknown as Server,
  };
  state.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      state.posts += 1;
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(
        (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8"),
      ) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { spans: ExportedSpan[] }[];
        }[];
      };
      for (const rs of body.resourceSpans) {
        state.services.push(
          ...rs.resource.attributes
            .filter((a) => a.key === "service.name")
            .map((a) => a.value.stringValue ?? ""),
        );
        for (const ss of rs.scopeSpans) state.spans.push(...ss.spans);
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => state.server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/v1/traces`;
  return state;
}

describe("startTracing", () => {
  const running: Tracing[] = [];
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.shutdown()));
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it("without an endpoint is off: the no-op tracer, spans not recorded, the traceparent passed on unchanged, no SDK loaded", async () => {
    const tracing = await startTracing({ service: "test" });
    expect([...loaded]).toEqual([]);
    running.push(tracing);
    expect(tracing.enabled).toBe(false);
    expect(tracing.tracer).toBe(NOOP_TRACER);
    const { span, traceparent } = startSpanFrom(tracing.tracer, "ingest", PARENT);
    expect(span.isRecording()).toBe(false);
    expect(traceparent).toBe(PARENT);
    expect(startSpanFrom(tracing.tracer, "ingest", undefined).traceparent).toBeUndefined();
  });

  it("with an endpoint exports spans over OTLP/HTTP JSON, flushed by shutdown, children of the incoming traceparent", async () => {
    const collector = await startCollector();
    servers.push(collector.server);
    // A long export delay: only shutdown's flush can deliver the spans in time.
    const tracing = await startTracing({
      service: "consumer",
      endpoint: collector.url,
      exportDelayMs: 60_000,
    });
    expect(tracing.enabled).toBe(true);
    expect([...loaded].sort()).toEqual(["exporter", "sdk-trace"]);
    const parent = startSpanFrom(tracing.tracer, "ingest", PARENT);
    const child = startSpanFrom(tracing.tracer, "deliver crm", parent.traceparent);
    child.span.end();
    parent.span.end();
    expect(collector.posts).toBe(0);
    await tracing.shutdown();

    expect(collector.services).toContain("consumer");
    const ingest = collector.spans.find((s) => s.name === "ingest");
    const deliver = collector.spans.find((s) => s.name === "deliver crm");
    expect(ingest).toMatchObject({ traceId: TRACE_ID, parentSpanId: "00f067aa0ba902b7" });
    expect(deliver).toMatchObject({ traceId: TRACE_ID, parentSpanId: ingest?.spanId });
    expect(parent.traceparent).toBe(`00-${TRACE_ID}-${ingest?.spanId}-01`);
  });

  it("starts a new trace when the incoming traceparent is missing or malformed", async () => {
    const collector = await startCollector();
    servers.push(collector.server);
    const tracing = await startTracing({ service: "consumer", endpoint: collector.url });
    running.push(tracing);
    for (const incoming of [undefined, "not-a-traceparent", `00-${"0".repeat(32)}-00f067aa0ba902b7-01`]) {
      const { span, traceparent } = startSpanFrom(tracing.tracer, "ingest", incoming);
      expect(span.isRecording()).toBe(true);
      expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(traceparent).not.toContain(TRACE_ID);
      span.end();
    }
  });
});

describe("traceparent helpers", () => {
  it("round-trip a W3C traceparent through a context", () => {
    const span = trace.wrapSpanContext(
      trace.getSpanContext(contextFromTraceparent(PARENT)) ?? { traceId: "", spanId: "", traceFlags: 0 },
    );
    expect(traceparentOf(span)).toBe(PARENT);
  });
});
