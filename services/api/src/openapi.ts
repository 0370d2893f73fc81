/**
 * The API's OpenAPI 3.1 description, served at /openapi.json and committed as docs/openapi.json
 * (a unit test fails when the two drift; `pnpm openapi` rewrites the committed copy).
 */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const problem = { $ref: "#/components/responses/Problem" };
const errors = (...codes: number[]): Record<string, Json> =>
  Object.fromEntries(codes.map((code) => [String(code), problem]));
const json = (schema: Json, description = "OK"): Json => ({
  description,
  content: { "application/json": { schema } },
});
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const query = (name: string, schema: Json, description: string, required = false): Json => ({
  name,
  in: "query",
  required,
  description,
  schema,
});
const path = (name: string, description: string): Json => ({
  name,
  in: "path",
  required: true,
  description,
  schema: { type: "string" },
});
const body = (schema: Json): Json => ({ required: true, content: { "application/json": { schema } } });
/**
 * Every operation names the least scope it needs; `admin` includes `operate`, which includes `read`;
 * `ingest` stands apart.
 */
function operation(
  summary: string,
  scope: "read" | "operate" | "admin" | "ingest",
  fields: Record<string, Json>,
): Json {
  return { summary, security: [{ apiKey: [] }, { bearer: [] }], "x-required-scope": scope, ...fields };
}

const identifiers = [
  query(
    "shared_id",
    { type: "string", maxLength: 200 },
    "The id both sides know; wins over `id` when both are given.",
  ),
  query("id", { type: "string", maxLength: 200 }, "The platform's conversation id."),
];
const destination = path("destination", "A destination name from the destinations file.");
const deadLetterFilter = {
  type: "object",
  additionalProperties: false,
  properties: {
    reason: { enum: ["permanent", "exhausted", "expired", "stalled"] },
    since: { type: "string", format: "date-time" },
    until: { type: "string", format: "date-time" },
    key: { type: "string" },
  },
};
const selection = {
  type: "object",
  additionalProperties: false,
  description: "Exactly one of `ids`, `filter` or `all`.",
  properties: {
    ids: { type: "array", items: { type: "string" } },
    filter: deadLetterFilter,
    all: { const: true },
    dry_run: { type: "boolean", default: false },
  },
};

const ingestProblem = {
  description: "Rejected: the consumer would reject it for the same `reason`",
  content: { "application/problem+json": { schema: ref("IngestProblem") } },
};

function ingestOperation(summary: string, schema: Json, parameters: Json[] = []): Json {
  return {
    post: operation(summary, "ingest", {
      ...(parameters.length > 0 ? { parameters } : {}),
      requestBody: body(schema),
      responses: {
        "202": json(ref("IngestAccepted"), "On Kafka: every in-sync replica acknowledged it"),
        "200": json(
          ref("IngestSkipped"),
          "Not a handoff (a chat turn without one, a close with nothing open)",
        ),
        "400": ingestProblem,
        "413": ingestProblem,
        "422": ingestProblem,
        ...errors(401, 403, 404),
        "429": { $ref: "#/components/responses/Problem" },
        "503": { $ref: "#/components/responses/Problem" },
      },
    }),
  };
}

export function openApiDocument(): Json {
  return {
    openapi: "3.1.0",
    info: {
      title: "handoff-sync API",
      version: "1",
      description:
        "Handoff lookup (seed-compatible and extended), per-destination delivery status, and the audited admin API. Errors are application/problem+json (RFC 9457).",
    },
    components: {
      securitySchemes: {
        apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
        bearer: { type: "http", scheme: "bearer" },
      },
      responses: {
        Problem: {
          description: "Problem details",
          content: { "application/problem+json": { schema: ref("Problem") } },
        },
      },
      schemas: {
        Problem: {
          type: "object",
          required: ["type", "title", "status", "detail"],
          properties: {
            type: { type: "string" },
            title: { type: "string" },
            status: { type: "integer" },
            detail: { type: "string" },
          },
        },
        HandoffState: {
          type: "object",
          description:
            "Exactly the seed's Handoff API answer: shared_id is absent (never null) when the handoff has none.",
          required: ["id", "data"],
          additionalProperties: false,
          properties: {
            id: { type: "string" },
            shared_id: { type: "string" },
            data: { type: "object" },
          },
        },
        IngestAccepted: {
          type: "object",
          required: ["event_id", "state"],
          properties: {
            event_id: {
              type: "string",
              description: "The event's id: the same request posted again has the same one.",
            },
            state: { type: "string" },
          },
        },
        IngestSkipped: {
          type: "object",
          required: ["skipped", "why"],
          properties: { skipped: { const: true }, why: { type: "string" } },
        },
        IngestProblem: {
          type: "object",
          description: "A rejection: `reason` is the one the consumer would give the record.",
          required: ["type", "title", "status", "detail", "reason"],
          properties: {
            type: { type: "string" },
            title: { type: "string" },
            status: { type: "integer" },
            detail: { type: "string" },
            reason: { type: "string" },
          },
        },
        Attempt: {
          type: "object",
          required: ["attempt", "at", "outcome", "error"],
          properties: {
            attempt: { type: "integer" },
            at: { type: "string", format: "date-time" },
            outcome: { enum: ["retryable", "permanent", "destination", "auth", "success", "unknown"] },
            status: { type: "integer" },
            error: { type: "string" },
            response_excerpt: { type: "string" },
            duration_ms: { type: "number" },
          },
        },
        DeliveryStatus: {
          type: "object",
          required: [
            "destination",
            "status",
            "up_to_date",
            "delivered",
            "pending_job",
            "dead_letter",
            "parked",
            "last_attempt",
          ],
          properties: {
            destination: { type: "string" },
            status: { enum: ["delivered", "pending", "retrying", "parked", "dead_lettered", "not_sent"] },
            up_to_date: { type: "boolean" },
            delivered: {
              type: ["object", "null"],
              properties: {
                version: { type: "integer" },
                record_id: { type: ["string", "null"] },
                delivered_at: { type: "string", format: "date-time" },
              },
            },
            pending_job: {
              type: ["object", "null"],
              properties: {
                id: { type: "string" },
                state: { type: "string" },
                version: { type: ["integer", "null"] },
              },
            },
            dead_letter: {
              type: ["object", "null"],
              properties: {
                id: { type: "string" },
                version: { type: "integer" },
                reason: { type: "string" },
                error: { type: "string" },
                dead_lettered_at: { type: "string", format: "date-time" },
              },
            },
            parked: {
              type: ["object", "null"],
              properties: {
                reason: { type: "string" },
                admin_hint: { type: "string" },
                parked_at: { type: "string" },
                by: { type: "string" },
              },
            },
            last_attempt: { oneOf: [ref("Attempt"), { type: "null" }] },
          },
        },
        Handoff: {
          type: "object",
          required: [
            "id",
            "shared_id",
            "key",
            "state",
            "stage",
            "version",
            "occurred_at",
            "data",
            "history",
            "deliveries",
          ],
          properties: {
            id: { type: "string" },
            shared_id: { type: ["string", "null"] },
            key: { type: "string" },
            state: { type: "string" },
            stage: { enum: ["initiated", "completed", "failed"] },
            version: { type: "integer" },
            occurred_at: { type: "string", format: "date-time" },
            created_at: { type: "string", format: "date-time" },
            updated_at: { type: "string", format: "date-time" },
            data: { type: "object" },
            history: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  event_id: { type: "string" },
                  state: { type: "string" },
                  occurred_at: { type: "string" },
                  received_at: { type: "string" },
                  anomaly: { type: "string" },
                },
              },
            },
            deliveries: { type: "array", items: ref("DeliveryStatus") },
          },
        },
        DeadLetter: {
          type: "object",
          required: [
            "v",
            "id",
            "key",
            "destination",
            "version",
            "reason",
            "error",
            "attempts",
            "dead_lettered_at",
          ],
          properties: {
            v: { const: 1 },
            id: { type: "string" },
            key: { type: "string" },
            destination: { type: "string" },
            version: { type: "integer" },
            reason: { enum: ["permanent", "exhausted", "expired", "stalled"] },
            error: { type: "string" },
            attempts: { type: "array", items: ref("Attempt") },
            first_attempt_at: { type: "string", format: "date-time" },
            dead_lettered_at: { type: "string", format: "date-time" },
          },
        },
        DestinationOverview: {
          type: "object",
          properties: {
            destination: { type: "string" },
            waiting: { type: "integer" },
            active: { type: "integer" },
            delayed: { type: "integer" },
            prioritized: { type: "integer" },
            failed: { type: "integer" },
            dead_lettered: { type: "integer" },
            paused: { type: "boolean" },
            parked: { type: ["object", "null"] },
            rate_limited: { type: "boolean" },
            rate_limit_ttl_ms: { type: "integer" },
            oldest_waiting_age_ms: { type: "integer" },
          },
        },
        RejectedRecord: {
          type: "object",
          properties: {
            partition: { type: "integer" },
            offset: { type: "string" },
            timestamp: { type: "string", format: "date-time" },
            key: { type: ["string", "null"] },
            reason: { type: ["string", "null"] },
            error: { type: ["string", "null"] },
            source: {
              type: "object",
              properties: {
                topic: { type: ["string", "null"] },
                partition: { type: ["integer", "null"] },
                offset: { type: ["string", "null"] },
              },
            },
            rejected_at: { type: ["string", "null"] },
            size: { type: "integer" },
            value_preview: { type: "string" },
            value_encoding: { enum: ["utf8", "base64"] },
          },
        },
        AuditEntry: {
          type: "object",
          properties: {
            id: { type: "string" },
            at: { type: "string", format: "date-time" },
            actor: { type: "string" },
            action: { type: "string" },
            target: { type: "string" },
            outcome: { enum: ["ok", "dry_run", "failed"] },
            details: { type: "object" },
          },
        },
      },
    },
    paths: {
      "/healthz": {
        get: { summary: "Liveness", security: [], responses: { "200": json({ type: "object" }) } },
      },
      "/readyz": {
        get: {
          summary: "Readiness (Redis answers)",
          security: [],
          responses: { "200": json({ type: "object" }), "503": json({ type: "object" }, "Not ready") },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics",
          security: [],
          responses: {
            "200": {
              description: "Prometheus text format",
              content: { "text/plain": { schema: { type: "string" } } },
            },
          },
        },
      },
      "/v1/{account_id}/{project_id}/handoff_state": {
        get: operation("Handoff state, compatible with the platform's Handoff API", "read", {
          parameters: [
            path("account_id", "Must be the account this deployment serves."),
            path("project_id", "Must be the project this deployment serves."),
            ...identifiers,
          ],
          responses: { "200": json(ref("HandoffState")), ...errors(400, 401, 403, 404, 429) },
        }),
      },
      "/v1/ingest/events": ingestOperation("A native handoff event (docs/event-contract.md)", {
        type: "object",
      }),
      "/v1/ingest/chat/respond": ingestOperation(
        "A Chat API chat/respond answer; one with end_conversation and a handoff starts a handoff",
        { type: "object", required: ["conversation_id"] },
        [query("shared_id", { type: "string", maxLength: 200 }, "The connector's shared id, if it has one.")],
      ),
      "/v1/ingest/chat/close": ingestOperation(
        "A chat/close: completes the conversation's open handoff, or fails it by http_ingest.chat_close.failed_when",
        { type: "object", required: ["conversation_id"] },
        [query("shared_id", { type: "string", maxLength: 200 }, "The connector's shared id, if it has one.")],
      ),
      "/v1/ingest/sip": ingestOperation(
        "A SIP request's headers (JSON { method, headers }, or the message itself as message/sip)",
        {
          type: "object",
          required: ["headers"],
          properties: {
            method: { type: "string", examples: ["REFER", "INVITE", "BYE"] },
            headers: { type: "object" },
          },
        },
      ),
      "/v1/handoffs": {
        get: operation("A handoff with its history and each destination's delivery status", "read", {
          parameters: identifiers,
          responses: { "200": json(ref("Handoff")), ...errors(400, 401, 403, 404, 429) },
        }),
      },
      "/admin/v1/destinations": {
        get: operation("Per-destination queue overview", "read", {
          responses: {
            "200": json({
              type: "object",
              properties: { destinations: { type: "array", items: ref("DestinationOverview") } },
            }),
            ...errors(401, 403),
          },
        }),
      },
      "/admin/v1/consumer-lag": {
        get: operation("Consumer group lag per partition of the source topic", "read", {
          responses: {
            "200": json({
              type: "object",
              properties: {
                group_id: { type: "string" },
                topic: { type: "string" },
                total_lag: { type: "integer" },
                partitions: { type: "array" },
              },
            }),
            ...errors(401, 403, 503),
          },
        }),
      },
      "/admin/v1/destinations/{destination}/dead-letters": {
        get: operation("Dead letters of a destination, oldest first", "read", {
          parameters: [
            destination,
            query("reason", { enum: ["permanent", "exhausted", "expired", "stalled"] }, "Only this reason."),
            query("since", { type: "string", format: "date-time" }, "Dead-lettered at or after."),
            query("until", { type: "string", format: "date-time" }, "Dead-lettered before."),
            query("key", { type: "string" }, "Only this handoff key."),
            query("offset", { type: "integer", minimum: 0, default: 0 }, "Entries to skip."),
            query(
              "limit",
              { type: "integer", minimum: 1, maximum: 1000, default: 100 },
              "Entries to return.",
            ),
          ],
          responses: {
            "200": json({
              type: "object",
              properties: {
                total: { type: "integer" },
                entries: { type: "array", items: ref("DeadLetter") },
              },
            }),
            ...errors(400, 401, 403, 404),
          },
        }),
      },
      "/admin/v1/destinations/{destination}/dead-letters/{id}": {
        get: operation("One dead letter with its attempt log", "read", {
          parameters: [destination, path("id", "Dead-letter id, dl.<key>.v<version>.")],
          responses: { "200": json(ref("DeadLetter")), ...errors(401, 403, 404) },
        }),
        delete: operation("Discard one dead letter", "operate", {
          parameters: [destination, path("id", "Dead-letter id.")],
          responses: { "204": { description: "Discarded" }, ...errors(401, 403, 404) },
        }),
      },
      "/admin/v1/destinations/{destination}/dead-letters/replay": {
        post: operation(
          "Replay dead letters (one, a filter, or all); re-reads the latest snapshot",
          "operate",
          {
            parameters: [destination],
            requestBody: body(selection),
            responses: {
              "200": json({
                type: "object",
                properties: { dry_run: { type: "boolean" }, items: { type: "array" } },
              }),
              ...errors(400, 401, 403, 404),
            },
          },
        ),
      },
      "/admin/v1/destinations/{destination}/dead-letters/discard": {
        post: operation("Discard dead letters (one, a filter, or all)", "operate", {
          parameters: [destination],
          requestBody: body(selection),
          responses: {
            "200": json({
              type: "object",
              properties: {
                dry_run: { type: "boolean" },
                discarded: { type: "array", items: { type: "string" } },
              },
            }),
            ...errors(400, 401, 403, 404),
          },
        }),
      },
      "/admin/v1/destinations/{destination}/pause": {
        post: operation("Pause (park) a destination", "operate", {
          parameters: [destination],
          requestBody: {
            required: false,
            content: {
              "application/json": { schema: { type: "object", properties: { reason: { type: "string" } } } },
            },
          },
          responses: { "200": json({ type: "object" }), ...errors(400, 401, 403, 404) },
        }),
      },
      "/admin/v1/destinations/{destination}/resume": {
        post: operation("Resume a parked or paused destination", "operate", {
          parameters: [destination],
          responses: { "200": json({ type: "object" }), ...errors(401, 403, 404) },
        }),
      },
      "/admin/v1/destinations/{destination}/backfill": {
        post: operation("Enqueue the handoffs created in a time range to a destination", "operate", {
          parameters: [destination],
          requestBody: body({
            type: "object",
            required: ["from", "to"],
            properties: {
              from: { type: "string", format: "date-time" },
              to: { type: "string", format: "date-time" },
              dry_run: { type: "boolean", default: false },
            },
          }),
          responses: { "200": json({ type: "object" }), ...errors(400, 401, 403, 404) },
        }),
      },
      "/admin/v1/rejected": {
        get: operation("Rejected events with their reasons, paged by offset", "read", {
          parameters: [
            query("partition", { type: "integer", minimum: 0 }, "Only this partition."),
            query("offset", { type: "string", pattern: "^\\d+$" }, "First offset on each partition."),
            query(
              "limit",
              { type: "integer", minimum: 1, maximum: 500, default: 50 },
              "Records per partition.",
            ),
            query("reason", { type: "string" }, "Only this rejection reason."),
          ],
          responses: {
            "200": json({
              type: "object",
              properties: {
                partitions: { type: "array" },
                records: { type: "array", items: ref("RejectedRecord") },
              },
            }),
            ...errors(400, 401, 403, 503),
          },
        }),
      },
      "/admin/v1/rejected/resend": {
        post: operation("Re-send rejected events to their source topic (after a config fix)", "operate", {
          requestBody: body({
            type: "object",
            required: ["records"],
            properties: {
              records: {
                type: "array",
                items: {
                  type: "object",
                  required: ["partition", "offset"],
                  properties: { partition: { type: "integer" }, offset: { type: "string" } },
                },
              },
              dry_run: { type: "boolean", default: false },
            },
          }),
          responses: { "200": json({ type: "object" }), ...errors(400, 401, 403, 503) },
        }),
      },
      "/admin/v1/erasure": {
        post: operation("Erase everything kept about a shared_id, conversation id or customer id", "admin", {
          requestBody: body({
            type: "object",
            description: "Exactly one of shared_id, id or customer_id.",
            properties: {
              shared_id: { type: "string" },
              id: { type: "string" },
              customer_id: { type: "string" },
              dry_run: { type: "boolean", default: false },
            },
          }),
          responses: { "200": json({ type: "object" }), ...errors(400, 401, 403) },
        }),
      },
      "/admin/v1/audit": {
        get: operation("The audit trail, newest first", "admin", {
          parameters: [
            query("limit", { type: "integer", minimum: 1, maximum: 1000, default: 50 }, "Entries to return."),
            query("before", { type: "string" }, "Cursor: next_before of the previous page."),
          ],
          responses: {
            "200": json({
              type: "object",
              properties: {
                entries: { type: "array", items: ref("AuditEntry") },
                next_before: { type: ["string", "null"] },
              },
            }),
            ...errors(400, 401, 403),
          },
        }),
      },
    },
  };
}
