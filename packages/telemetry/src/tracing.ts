import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

export type { Span, Tracer } from "@opentelemetry/api";
export { SpanKind, SpanStatusCode } from "@opentelemetry/api";

export interface TracingSettings {
  /** `service.name` of every span this process exports. */
  readonly service: string;
  /** The full OTLP/HTTP traces URL (`.../v1/traces`); absent means tracing is off. */
  readonly endpoint?: string;
  /** How often finished spans are sent; shutdown flushes whatever is left. */
  readonly exportDelayMs?: number;
}

export interface Tracing {
  readonly tracer: Tracer;
  /** True when spans are recorded and exported; false means a no-op tracer. */
  readonly enabled: boolean;
  /** Exports spans still buffered and stops the exporter; call once on shutdown. */
  shutdown(): Promise<void>;
}

/**
 * Creates nothing and costs nothing; what components use when no tracer is passed in. A provider
 * with no delegate never consults the global one, so this stays a no-op whatever else registers.
 */
export const NOOP_TRACER: Tracer = new ProxyTracerProvider().getTracer("handoff-sync");

/**
 * The process's tracer. Without an endpoint it is `NOOP_TRACER`, which `startSpanFrom` recognises
 * and skips. Nothing is registered globally, so only code handed this tracer creates spans. The SDK
 * and the OTLP exporter are loaded only when an endpoint is configured: a service that does not
 * trace never holds them (about 8 MiB of RSS, docs/performance.md).
 */
export async function startTracing(settings: TracingSettings): Promise<Tracing> {
  if (settings.endpoint === undefined) {
    return { tracer: NOOP_TRACER, enabled: false, shutdown: () => Promise.resolve() };
  }
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, TracerProvider }] =
    await Promise.all([
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/sdk-trace"),
    ]);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": settings.service }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: settings.endpoint }),
        scheduledDelayMillis: settings.exportDelayMs ?? 2000,
      }),
    ],
  });
  return { tracer: provider.getTracer("handoff-sync"), enabled: true, shutdown: () => provider.shutdown() };
}

const propagator = new W3CTraceContextPropagator();

/** The context a W3C `traceparent` value names, or the root context when absent or malformed. */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  if (traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
}

/** The W3C `traceparent` value naming this span, or undefined for an invalid (no-op, parentless) span. */
export function traceparentOf(span: Span): string | undefined {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

// One shared span for the no-op case: its methods do nothing and it is never exported.
const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Starts a span whose parent is the given `traceparent` (a new trace when there is none or it is
 * malformed), and returns it with the `traceparent` to send on: the span's own. With the no-op
 * tracer nothing is parsed or created and the incoming value is sent on unchanged, so downstream
 * systems still join the producer's trace at the cost of one comparison.
 */
export function startSpanFrom(
  tracer: Tracer,
  name: string,
  parent: string | undefined,
  options: { readonly kind?: SpanKind; readonly attributes?: Attributes } = {},
): { span: Span; traceparent: string | undefined } {
  if (tracer === NOOP_TRACER) return { span: NOOP_SPAN, traceparent: parent };
  const span = tracer.startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
    },
    contextFromTraceparent(parent),
  );
  return { span, traceparent: traceparentOf(span) };
}
