import type { HttpIngest } from "@handoff-sync/config";
import {
  chatCloseStep,
  chatRespondStep,
  decodeJsonValue,
  normaliseSipHeaders,
  parseSipMessage,
  validateHandoffEvent,
  type ChatStep,
  type Rejected,
  type SipRequest,
} from "@handoff-sync/ingest";
import type { EventProducer } from "@handoff-sync/kafka";
import type { EventLimits, HandoffEvent, RejectionReason, StateCatalogue } from "@handoff-sync/schema";
import { createHttpIngestMetrics, type Logger, type Registry } from "@handoff-sync/telemetry";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { ApiInstance } from "./api-instance.js";
import type { ChatAttempts } from "./chat-attempts.js";
import { sendProblem } from "./problem.js";
import { createLocalIngestRateLimiter, type IngestRateLimiter } from "./rate-limit.js";

export interface IngestRouteSettings {
  /** Where accepted events go, or why HTTP ingestion is off (answered 404). */
  readonly target: { readonly topic: string } | { readonly disabled: string };
  /** Undefined without KAFKA_BROKERS: every request is answered 503. */
  readonly producer: EventProducer | undefined;
  readonly settings: HttpIngest;
  readonly catalogue: StateCatalogue;
  /** The consumer's limits (`source.max_message_bytes`, `source.limits`): the edge rejects what it would. */
  readonly maxMessageBytes: number;
  readonly limits: EventLimits;
  readonly chatAttempts: ChatAttempts;
  /** Per API key; absent, each process counts on its own (`rate_limit.shared: false`). */
  readonly limiter?: IngestRateLimiter;
  readonly registry: Registry;
  readonly log: Logger;
  readonly now?: () => number;
}

type Endpoint = "events" | "chat_respond" | "chat_close" | "sip";
type Result = "accepted" | "skipped" | "rejected" | "unavailable" | "rate_limited";

const SharedIdQuerySchema = z.object({ shared_id: z.string().min(1).max(200).optional() });

const SipJsonSchema = z.strictObject({
  method: z
    .string()
    .regex(/^[A-Z]+$/, "must be a SIP method in capitals such as REFER")
    .optional(),
  headers: z.record(z.string().min(1), z.union([z.string(), z.array(z.string())])),
});

// Problem status per rejection: the body cannot be read (400), is too large (413), or reads but
// is not a handoff event this deployment accepts (422).
const STATUS: Readonly<Partial<Record<RejectionReason, number>>> = {
  empty: 400,
  invalid_encoding: 400,
  invalid_json: 400,
  oversize: 413,
};

/**
 * HTTP ingestion: native events, Chat API answers, chat/close and SIP requests become native
 * handoff events on Kafka, checked exactly as the consumer checks a record, and are answered 202
 * only after every in-sync replica has them (docs/operations.md, decision 0030).
 */
export function registerIngestRoutes(app: ApiInstance, deps: IngestRouteSettings): void {
  const { settings } = deps;
  const now = deps.now ?? Date.now;
  const limiter =
    deps.limiter ??
    createLocalIngestRateLimiter(
      { perSecond: settings.rate_limit.per_second, burst: settings.rate_limit.burst },
      now,
    );
  const { requests } = createHttpIngestMetrics(deps.registry);
  const log = deps.log.child({ component: "http-ingest" });

  const count = (endpoint: Endpoint, result: Result): void => requests.inc({ endpoint, result });

  const reject = (reply: FastifyReply, endpoint: Endpoint, rejected: Rejected): FastifyReply => {
    count(endpoint, "rejected");
    return sendProblem(reply, STATUS[rejected.reason] ?? 422, "Event rejected", rejected.error, {
      reason: rejected.reason,
    });
  };

  /** Checks an event as the consumer will, produces it, and answers 202 once Kafka acknowledged. */
  const produce = async (
    request: FastifyRequest,
    reply: FastifyReply,
    endpoint: Endpoint,
    raw: unknown,
    afterAck?: () => Promise<void>,
  ): Promise<FastifyReply> => {
    const checked = validateHandoffEvent(raw, { catalogue: deps.catalogue, limits: deps.limits, now: now() });
    if (!checked.ok) return reject(reply, endpoint, checked);
    const event: HandoffEvent = checked.event;
    const value = JSON.stringify(event);
    // The consumer would reject it as oversize: say so now, not after it is on the topic.
    if (Buffer.byteLength(value) > deps.maxMessageBytes) {
      return reject(reply, endpoint, {
        ok: false,
        reason: "oversize",
        error: `the event is ${Buffer.byteLength(value)} bytes; source.max_message_bytes is ${deps.maxMessageBytes}`,
      });
    }
    if (deps.producer === undefined || !("topic" in deps.target)) {
      count(endpoint, "unavailable");
      void reply.header("retry-after", String(settings.retry_after_s));
      return sendProblem(reply, 503, "Kafka unavailable", "this api has no KAFKA_BROKERS configured");
    }
    try {
      await deps.producer.send(deps.target.topic, event.shared_id ?? event.id, value, {
        "handoff-sync-ingested-by": request.principal?.name ?? "unknown",
      });
    } catch (error) {
      count(endpoint, "unavailable");
      void reply.header("retry-after", String(settings.retry_after_s));
      return sendProblem(
        reply,
        503,
        "Kafka unavailable",
        `the event was not acknowledged (${error instanceof Error ? error.message : String(error)}); retry after ${settings.retry_after_s} s`,
      );
    }
    // After the ack only: a failure here leaves the event on Kafka, and the client's retry finds it.
    await afterAck?.();
    count(endpoint, "accepted");
    log.debug({ endpoint, eventId: event.event_id, state: event.state }, "event accepted");
    return reply.code(202).send({ event_id: event.event_id, state: event.state });
  };

  const skip = (reply: FastifyReply, endpoint: Endpoint, why: string): FastifyReply => {
    count(endpoint, "skipped");
    return reply.code(200).send({ skipped: true, why });
  };

  const jsonBody = (body: unknown): ReturnType<typeof decodeJsonValue> =>
    decodeJsonValue(Buffer.isBuffer(body) ? body : null, {
      maxBytes: settings.max_body_bytes,
      limits: deps.limits,
    });

  const runChat = async (
    request: FastifyRequest,
    reply: FastifyReply,
    endpoint: "chat_respond" | "chat_close",
  ): Promise<FastifyReply> => {
    const query = SharedIdQuerySchema.safeParse(request.query);
    if (!query.success) {
      count(endpoint, "rejected");
      return sendProblem(reply, 400, "Invalid query", "shared_id: must be 1-200 characters");
    }
    const json = jsonBody(request.body);
    if (!json.ok) return reject(reply, endpoint, json);
    const conversationId =
      json.raw !== null && typeof json.raw === "object" && !Array.isArray(json.raw)
        ? (json.raw as Record<string, unknown>)["conversation_id"]
        : undefined;
    const current =
      typeof conversationId === "string" && conversationId !== ""
        ? await deps.chatAttempts.get(conversationId)
        : undefined;
    const options = {
      nowMs: now(),
      ...(query.data.shared_id !== undefined ? { sharedId: query.data.shared_id } : {}),
    };
    const step: ChatStep =
      endpoint === "chat_respond"
        ? chatRespondStep(json.raw, current, { ...options, settings: settings.chat_respond })
        : chatCloseStep(json.raw, current, { ...options, settings: settings.chat_close });
    if (step.kind === "skip") return skip(reply, endpoint, step.why);
    if (step.kind === "reject")
      return reject(reply, endpoint, { ok: false, reason: "schema_violation", error: step.error });
    const id = String(step.event["id"]);
    return produce(request, reply, endpoint, step.event, () => deps.chatAttempts.set(id, step.next));
  };

  void app.register((scope, _options, done) => {
    // Bodies are read as bytes, so the edge checks them exactly as the consumer checks a record.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
    scope.addHook("preHandler", async (request, reply) => {
      if ("disabled" in deps.target)
        return sendProblem(reply, 404, "HTTP ingestion is off", deps.target.disabled);
      const waitMs = await limiter.take(request.principal?.name ?? request.ip);
      if (waitMs > 0) {
        const endpoint = (request.routeOptions.config as { endpoint?: Endpoint }).endpoint ?? "events";
        count(endpoint, "rate_limited");
        void reply.header("retry-after", String(Math.ceil(waitMs / 1000)));
        return sendProblem(
          reply,
          429,
          "Too many requests",
          `this key's ingestion rate is exceeded; retry in ${Math.ceil(waitMs / 1000)} s`,
        );
      }
      return undefined;
    });
    scope.setErrorHandler((error, _request, reply) => {
      const status = (error as { statusCode?: unknown }).statusCode;
      if (status === 413)
        return sendProblem(
          reply,
          413,
          "Event rejected",
          `the body is larger than http_ingest.max_body_bytes (${settings.max_body_bytes})`,
          {
            reason: "oversize",
          },
        );
      throw error;
    });

    const route = { bodyLimit: settings.max_body_bytes };
    scope.post(
      "/v1/ingest/events",
      { ...route, config: { scope: "ingest", endpoint: "events" } },
      async (request, reply) => {
        const json = jsonBody(request.body);
        if (!json.ok) return reject(reply, "events", json);
        return produce(request, reply, "events", json.raw);
      },
    );
    scope.post(
      "/v1/ingest/chat/respond",
      { ...route, config: { scope: "ingest", endpoint: "chat_respond" } },
      (request, reply) => runChat(request, reply, "chat_respond"),
    );
    scope.post(
      "/v1/ingest/chat/close",
      { ...route, config: { scope: "ingest", endpoint: "chat_close" } },
      (request, reply) => runChat(request, reply, "chat_close"),
    );
    scope.post(
      "/v1/ingest/sip",
      { ...route, config: { scope: "ingest", endpoint: "sip" } },
      async (request, reply) => {
        const mapping = settings.sip_headers;
        if (mapping === undefined)
          return sendProblem(
            reply,
            404,
            "SIP ingestion is off",
            "configure http_ingest.sip_headers to map SIP headers to events",
          );
        const sip = readSipRequest(request, settings.max_body_bytes, deps.limits);
        if (!sip.ok) return reject(reply, "sip", sip);
        const normalised = normaliseSipHeaders(
          sip.request.headers,
          { timestamp: now(), method: sip.request.method },
          mapping,
        );
        if (normalised.kind === "skip") return skip(reply, "sip", normalised.why);
        if (normalised.kind === "reject")
          return reject(reply, "sip", { ok: false, reason: "schema_violation", error: normalised.error });
        return produce(request, reply, "sip", normalised.event);
      },
    );
    done();
  });
}

/** A SIP request as `message/sip` text (or text/plain), or as JSON `{ method, headers }`. */
function readSipRequest(
  request: FastifyRequest,
  maxBytes: number,
  limits: EventLimits,
): { ok: true; request: SipRequest } | Rejected {
  const body = Buffer.isBuffer(request.body) ? request.body : null;
  const type = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "message/sip" || type === "text/plain") {
    if (body === null || body.length === 0)
      return { ok: false, reason: "empty", error: "the SIP message is empty" };
    const parsed = parseSipMessage(body.toString("utf8"));
    return parsed.ok ? parsed : { ok: false, reason: "schema_violation", error: parsed.error };
  }
  const json = decodeJsonValue(body, { maxBytes, limits });
  if (!json.ok) return json;
  const parsed = SipJsonSchema.safeParse(json.raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      reason: "schema_violation",
      error: `${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"} (expected { method, headers })`,
    };
  }
  return {
    ok: true,
    request: {
      ...(parsed.data.method !== undefined ? { method: parsed.data.method } : {}),
      headers: parsed.data.headers,
    },
  };
}
