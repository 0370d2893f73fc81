import {
  FAKE_ZENDESK_API_TOKEN,
  FAKE_SERVICENOW_TABLES,
  startFakeHubSpot,
  startFakeServer,
  startFakeServiceNow,
  startFakeZendesk,
  WriteLog,
  type FakeHubSpot,
  type FakeServer,
  type FakeServiceNow,
  type FakeZendesk,
} from "@handoff-sync/testing";
import type { CrmView } from "./oracle.js";

export const ZENDESK_STATE_FIELD = 900_001;
export const ZENDESK_VERSION_FIELD = 900_002;

interface WebhookRecord {
  readonly id: string;
  readonly version: number;
  readonly state: string;
  readonly data: Record<string, unknown>;
}

export interface ChaosCrms {
  readonly webhook: FakeServer & { writes: WriteLog; byKey: Map<string, WebhookRecord> };
  readonly zendesk: FakeZendesk;
  readonly servicenow: FakeServiceNow;
  /** The batched destination: deliveries share HubSpot batch upserts (decision 0050). */
  readonly hubspot: FakeHubSpot;
  all(): FakeServer[];
  views(): CrmView[];
  configYaml(): string;
  close(): Promise<void>;
}

/** A webhook receiver as receivers should be: it applies a message id once and keeps the newest version. */
async function startWebhookReceiver(): Promise<ChaosCrms["webhook"]> {
  const writes = new WriteLog();
  const byKey = new Map<string, WebhookRecord>();
  const seen = new Set<string>();
  const server = await startFakeServer((request) => {
    const id = String(request.headers["webhook-id"]);
    const body = request.body as {
      data: { key: string; version: number; state: string; data: Record<string, unknown> };
    };
    if (!seen.has(id)) {
      seen.add(id);
      const created = !byKey.has(body.data.key);
      writes.record({
        operation: created ? "create" : "update",
        object: "webhook",
        recordId: body.data.key,
        externalId: body.data.key,
        version: body.data.version,
        fields: { state: body.data.state, arrival: request.arrival },
      });
      const current = byKey.get(body.data.key);
      if (!current || current.version < body.data.version)
        byKey.set(body.data.key, {
          id: body.data.key,
          version: body.data.version,
          state: body.data.state,
          data: body.data.data,
        });
    }
    return { status: 204 };
  });
  return Object.assign(server, { writes, byKey });
}

function versionFromTags(tags: readonly string[]): number | undefined {
  let version: number | undefined;
  for (const tag of tags) {
    const match = /^handoff_v(\d+)$/.exec(tag);
    if (match?.[1] !== undefined) version = Math.max(version ?? 0, Number(match[1]));
  }
  return version;
}

export async function startChaosCrms(options: { idempotencyTtlMs: number }): Promise<ChaosCrms> {
  const webhook = await startWebhookReceiver();
  const zendesk = await startFakeZendesk({
    idempotencyTtlMs: options.idempotencyTtlMs,
    versionFieldId: ZENDESK_VERSION_FIELD,
  });
  const incident = FAKE_SERVICENOW_TABLES.incident ?? [];
  const servicenow = await startFakeServiceNow({
    tables: { ...FAKE_SERVICENOW_TABLES, incident: [...incident, "u_handoff_state"] },
  });
  const hubspot = await startFakeHubSpot();
  return {
    webhook,
    zendesk,
    servicenow,
    hubspot,
    all: () => [webhook, zendesk, servicenow, hubspot],
    views: () => [
      {
        name: "webhook",
        // In the order they were sent: a message a slow network delivered late is the receiver's
        // to discard by version, not a write the pipeline sent backward.
        writes: [...webhook.writes.all()]
          .sort((a, b) => Number(a.fields.arrival) - Number(b.fields.arrival))
          .map((w) => ({
            handoff: w.externalId ?? "",
            recordId: w.recordId,
            version: w.version,
            state: String(w.fields.state),
            created: w.operation === "create",
          })),
        recordsFor: (handoff) => {
          const record = webhook.byKey.get(handoff);
          return record
            ? [{ recordId: record.id, version: record.version, state: record.state, data: record.data }]
            : [];
        },
      },
      {
        name: "zendesk",
        writes: zendesk.writes.all().map((w) => ({
          handoff: w.externalId ?? "",
          recordId: w.recordId,
          version: w.version,
          state: undefined,
          created: w.operation === "create",
        })),
        recordsFor: (handoff) =>
          zendesk
            .records()
            .filter((t) => t.external_id === handoff)
            .map((t) => {
              const state = t.custom_fields.find((f) => f.id === ZENDESK_STATE_FIELD)?.value;
              return {
                recordId: String(t.id),
                version: versionFromTags(t.tags),
                state: typeof state === "string" ? state : undefined,
              };
            }),
      },
      {
        name: "servicenow",
        writes: servicenow.writes
          .all()
          .filter((w) => w.operation !== "delete")
          .map((w) => ({
            handoff: w.externalId ?? "",
            recordId: w.recordId,
            version: w.version,
            state: undefined,
            created: w.operation === "create",
          })),
        recordsFor: (handoff) =>
          servicenow
            .records("incident")
            .filter((r) => r.correlation_id === handoff)
            .map((r) => ({
              recordId: r.sys_id ?? "",
              version:
                r.u_handoff_version === undefined || r.u_handoff_version === ""
                  ? undefined
                  : Number(r.u_handoff_version),
              state: r.u_handoff_state,
            })),
      },
      {
        name: "hubspot",
        writes: hubspot.writes.all().map((w) => ({
          handoff: w.externalId ?? "",
          recordId: w.recordId,
          version: w.version,
          state: typeof w.fields["handoff_state"] === "string" ? w.fields["handoff_state"] : undefined,
          created: w.operation === "create",
        })),
        recordsFor: (handoff) =>
          hubspot
            .records("tickets")
            .filter((r) => r.properties["handoff_key"] === handoff)
            .map((r) => ({
              recordId: r.id,
              version:
                r.properties["handoff_version"] === undefined || r.properties["handoff_version"] === null
                  ? undefined
                  : Number(r.properties["handoff_version"]),
              state: r.properties["handoff_state"] ?? undefined,
            })),
      },
    ],
    configYaml: () =>
      [
        "  webhook:",
        "    type: webhook",
        `    url: ${webhook.url}/hooks`,
        "    secret: env:CHAOS_WEBHOOK_SECRET",
        ...common(),
        "  zendesk:",
        "    type: zendesk",
        `    url: ${zendesk.url}`,
        "    auth:",
        "      method: api_token",
        `      email: ${FAKE_ZENDESK_API_TOKEN.email}`,
        "      api_token: env:CHAOS_ZENDESK_TOKEN",
        `    version_field_id: ${ZENDESK_VERSION_FIELD}`,
        ...common(),
        "    mapping:",
        '      subject: { template: "Handoff {{key}}" }',
        '      comment: { template: "Handoff {{state}} v{{version}}" }',
        `      custom_fields.${ZENDESK_STATE_FIELD}: state`,
        "  servicenow:",
        "    type: servicenow",
        `    instance_url: ${servicenow.url}`,
        "    auth:",
        "      method: basic",
        "      username: env:CHAOS_SERVICENOW_USER",
        "      password: env:CHAOS_SERVICENOW_PASSWORD",
        ...common(),
        "    mapping:",
        '      short_description: { template: "Handoff {{key}}" }',
        "      u_handoff_state: state",
        "  hubspot:",
        "    type: hubspot",
        `    base_url: ${hubspot.url}`,
        "    auth: { method: private_app, token: env:CHAOS_HUBSPOT_TOKEN }",
        "    batch: { max_size: 25, max_wait_ms: 100 }",
        ...common(),
      ].join("\n"),
    close: async () => {
      await Promise.all([webhook.close(), zendesk.close(), servicenow.close(), hubspot.close()]);
    },
  };
}

function common(): string[] {
  return [
    "    allow_private_network: true",
    "    timeout_ms: 1500",
    "    concurrency: 6",
    "    retry:",
    "      attempts: 40",
    "      base_delay_ms: 200",
    "      max_delay_ms: 3000",
  ];
}

export const CHAOS_SECRETS = {
  CHAOS_WEBHOOK_SECRET: "whsec_Y2hhb3Mtd2ViaG9vay1zZWNyZXQ=",
  CHAOS_ZENDESK_TOKEN: FAKE_ZENDESK_API_TOKEN.token,
  CHAOS_SERVICENOW_USER: "integration.user",
  CHAOS_SERVICENOW_PASSWORD: "integration-password",
  CHAOS_HUBSPOT_TOKEN: "pat-na1-fake",
};

/**
 * What only a batch API does: inputs refused alone inside a 207 (CONFLICT, retried by that delivery
 * alone), and a batch that HubSpot applies and then answers after the client gave up (every
 * delivery of it ambiguous).
 */
export function misbehaveInBatches(hubspot: FakeHubSpot): void {
  hubspot.rejectInputs(0.05, { category: "CONFLICT", message: "a concurrent write of this record" });
  hubspot.faults.add({ fault: { kind: "delay_after_commit", ms: 2500 }, probability: 0.04 });
}

/** The worst of real CRMs: 503s (some after the write committed), answers slower than the timeout. */
export function misbehave(server: FakeServer): void {
  server.faults.add({ fault: { kind: "after_commit", status: 503 }, probability: 0.08 });
  server.faults.add({ fault: { kind: "drop_after_commit" }, probability: 0.02 });
  server.faults.add({ fault: { kind: "delay", ms: 2500 }, probability: 0.03 });
  server.faults.add({
    fault: { kind: "status", status: 503, body: "Service Unavailable" },
    probability: 0.22,
  });
}

/** A burst of 429s with Retry-After, as a CRM whose rate limit was hit answers. */
export function rateLimitBurst(server: FakeServer, count: number): void {
  server.faults.next(
    { kind: "status", status: 429, headers: { "retry-after": "1" }, body: "Too Many Requests" },
    count,
  );
}
