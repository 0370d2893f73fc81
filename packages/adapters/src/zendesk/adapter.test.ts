import {
  AuthError,
  DestinationError,
  HandoffSnapshotSchema,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import { afterEach, describe, expect, it } from "vitest";
// The fakes live in @handoff-sync/testing, which this package does not depend on at runtime.
import {
  FAKE_ZENDESK_API_TOKEN,
  FAKE_ZENDESK_OAUTH_CLIENT,
  startFakeZendesk,
  type FakeZendesk,
  type FakeZendeskOptions,
} from "../../../testing/src/fakes/zendesk/index.js";
import type { Adapter, DeliveryRequest } from "../contract.js";
import { createAdapter } from "../registry.js";
import { createZendeskAdapter, type ZendeskConfig } from "./adapter.js";

// Real HTTP against the fake Zendesk on 127.0.0.1; no Kafka or Redis.

const KEY = "conv-7";
const at = "2025-03-01T10:00:00.000Z";

function snapshot(
  version: number,
  state = "handoff_initiated",
  data: Record<string, unknown> = {},
): HandoffSnapshot {
  return HandoffSnapshotSchema.parse({
    schema_version: 1,
    key: KEY,
    id: KEY,
    state,
    stage: state === "handoff_completed" ? "completed" : "initiated",
    version,
    occurred_at: at,
    data: { customer_id: "C-42", customer_email: "jane@example.com", ...data },
    reason: "refund over limit",
    history: [
      {
        event_id: `e${version}`,
        id: KEY,
        state,
        stage: "initiated",
        occurred_at: at,
        received_at: at,
        data: {},
      },
    ],
    created_at: at,
    updated_at: at,
  });
}

const fakes: FakeZendesk[] = [];
const adapters: Adapter[] = [];
afterEach(async () => {
  await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function fake(options: FakeZendeskOptions = {}): Promise<FakeZendesk> {
  const started = await startFakeZendesk(options);
  fakes.push(started);
  return started;
}

function config(zd: Pick<FakeZendesk, "url">, overrides: Partial<ZendeskConfig> = {}): ZendeskConfig {
  return {
    type: "zendesk",
    url: zd.url,
    auth: {
      method: "api_token",
      email: FAKE_ZENDESK_API_TOKEN.email,
      api_token: FAKE_ZENDESK_API_TOKEN.token,
    },
    on_missing_record: "recreate",
    allow_private_network: true,
    timeout_ms: 2_000,
    concurrency: 2,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    ...overrides,
  };
}

function adapter(zd: FakeZendesk, overrides: Partial<ZendeskConfig> = {}): Adapter {
  const created = createZendeskAdapter("support", config(zd, overrides));
  adapters.push(created);
  return created;
}

const clientCredentials = {
  method: "oauth_client_credentials",
  client_id: FAKE_ZENDESK_OAUTH_CLIENT.clientId,
  client_secret: FAKE_ZENDESK_OAUTH_CLIENT.clientSecret,
  scope: "tickets:read tickets:write",
} as const;

function request(version: number, previous?: DeliveryRequest["previous"], state?: string): DeliveryRequest {
  return {
    snapshot: snapshot(version, state),
    destination: "support",
    ...(previous === undefined ? {} : { previous }),
  };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("expected the delivery to fail"),
    (error: unknown) => error,
  );
}

describe("zendesk adapter: create and update", () => {
  it("creates one ticket with external_id, the version tag and the default mapping", async () => {
    const zd = await fake();
    const result = await adapter(zd).deliver(request(1));
    expect(result.status).toBe(201);
    const [ticket] = zd.records();
    expect(result.recordId).toBe(String(ticket?.id));
    expect(ticket).toMatchObject({
      external_id: KEY,
      subject: "Handoff from AI agent: refund over limit",
      tags: ["handoff_sync", "handoff_v1"],
    });
    expect(ticket?.comments).toHaveLength(1);
    expect(ticket?.comments[0]).toMatchObject({ public: false });
    expect(ticket?.comments[0]?.body).toContain("Customer: C-42");
    expect(zd.writes.all()).toEqual([
      expect.objectContaining({ operation: "create", externalId: KEY, version: 1 }),
    ]);
  });

  it("updates the same ticket for a later version: one more comment, the marker moves", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    const { recordId } = await zendesk.deliver(request(1));
    const second = await zendesk.deliver(
      request(2, { version: 1, ...(recordId === undefined ? {} : { recordId }) }, "handoff_completed"),
    );
    expect(second).toEqual({ recordId, status: 200 });
    const [ticket] = zd.records();
    expect(zd.records()).toHaveLength(1);
    expect(ticket?.comments).toHaveLength(2);
    expect(ticket?.comments[1]?.body).toContain("handoff_completed");
    expect(ticket?.tags).toEqual(["handoff_sync", "handoff_v2"]);
    expect(zd.writes.all().map((w) => [w.operation, w.version])).toEqual([
      ["create", 1],
      ["update", 2],
    ]);
  });

  it("adds no second comment when an update is retried, and never writes an older version over a newer one", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    const recordId = (await zendesk.deliver(request(1))).recordId ?? "";
    await zendesk.deliver(request(2, { version: 1, recordId }));
    await zendesk.deliver(request(2, { version: 1, recordId }));
    await zendesk.deliver(request(1, { version: 1, recordId }));
    expect(zd.records()[0]?.comments).toHaveLength(2);
    expect(zd.writes.all()).toHaveLength(2);
  });

  it("writes the version into the configured custom field and reads it as a marker", async () => {
    const zd = await fake({ versionFieldId: 360_001 });
    const zendesk = adapter(zd, { version_field_id: 360_001 });
    const recordId = (await zendesk.deliver(request(3))).recordId ?? "";
    expect(zd.records()[0]?.custom_fields).toEqual([{ id: 360_001, value: 3 }]);
    // An agent dropped the tag; the field still says version 3 is there.
    zd.editTicket(Number(recordId), { tags: ["handoff_sync"] });
    await zendesk.deliver(request(3, { version: 3, recordId }));
    expect(zd.writes.all()).toHaveLength(1);
  });

  it("keeps tags an agent added and sends the update as a safe_update", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    const recordId = (await zendesk.deliver(request(1))).recordId ?? "";
    zd.editTicket(Number(recordId), { tags: ["handoff_sync", "handoff_v1", "vip"] });
    await zendesk.deliver(request(2, { version: 1, recordId }));
    expect(zd.records()[0]?.tags).toEqual(["handoff_sync", "vip", "handoff_v2"]);
    expect(zd.writes.all()[1]?.fields).toMatchObject({
      safe_update: true,
      updated_stamp: expect.any(String) as unknown,
    });
  });

  it("is reachable through the registry", () => {
    const zendesk = createAdapter("support", config({ url: "https://acme.zendesk.com" }));
    adapters.push(zendesk);
    expect(zendesk.type).toBe("zendesk");
  });
});

describe("zendesk adapter: error classes", () => {
  it("throws retryable on 5xx and creates nothing", async () => {
    const zd = await fake();
    zd.faults.next({ kind: "status", status: 500 }, 1, (r) => r.method === "POST");
    const error = await failure(adapter(zd).deliver(request(1)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status: 500 });
    expect(zd.records()).toHaveLength(0);
  });

  it("throws retryable with retryAfterMs on a text/plain 429 from the rate limiter", async () => {
    let now = 1_700_000_000_000;
    const zd = await fake({ rateLimit: { limit: 1, windowMs: 60_000 }, now: () => now });
    now += 20_000;
    const error = await failure(adapter(zd).deliver(request(1)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 40_000 });
    expect((error as RetryableDeliveryError).responseExcerpt).toMatch(/Too Many Requests/);
  });

  it("throws a record-level permanent error on 422 RecordInvalid", async () => {
    const zd = await fake();
    const zendesk = adapter(zd, {
      mapping: { comment: { literal: "hello" }, requester_email: { literal: "not-an-email" } },
    });
    const error = await failure(zendesk.deliver(request(1)));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status: 422 });
    expect((error as PermanentDeliveryError).message).toContain("requester");
  });

  it("parks the destination with an AuthError when the API token is refused", async () => {
    const zd = await fake();
    const error = await failure(
      adapter(zd, {
        auth: { method: "api_token", email: FAKE_ZENDESK_API_TOKEN.email, api_token: "revoked" },
      }).deliver(request(1)),
    );
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ status: 401 });
    expect((error as AuthError).responseExcerpt).not.toContain("revoked");
  });

  it("parks the destination on 403 (a token without write scope)", async () => {
    const zd = await fake();
    const error = await failure(
      adapter(zd, { auth: { ...clientCredentials, scope: "read" } }).deliver(request(1)),
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).not.toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ status: 403 });
  });

  it("refuses a mapping to fields Zendesk tickets do not have", async () => {
    const zd = await fake();
    const error = await failure(
      adapter(zd, { mapping: { Handoff_Version__c: { path: "version" } } }).deliver(request(1)),
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as DestinationError).message).toContain("Handoff_Version__c");
  });
});

describe("zendesk adapter: OAuth", () => {
  it("uses an OAuth token issued beforehand", async () => {
    const zd = await fake({ accessTokens: ["given-token"] });
    await adapter(zd, { auth: { method: "oauth_token", access_token: "given-token" } }).deliver(request(1));
    expect(zd.records()).toHaveLength(1);
  });

  it("caches the client-credentials token and renews it once when it expires", async () => {
    const zd = await fake({ tokenExpiry: { afterRequests: 2 } });
    const zendesk = adapter(zd, { auth: clientCredentials });
    const recordId = (await zendesk.deliver(request(1))).recordId ?? "";
    expect(zd.tokensIssued()).toBe(1);
    await zendesk.deliver(request(2, { version: 1, recordId }));
    expect(zd.tokensIssued()).toBe(2);
    expect(zd.records()[0]?.comments).toHaveLength(2);
  });

  it("throws AuthError when the renewed token is refused too", async () => {
    const zd = await fake({ tokenExpiry: { afterRequests: 0 } });
    const error = await failure(adapter(zd, { auth: clientCredentials }).deliver(request(1)));
    expect(error).toBeInstanceOf(AuthError);
    expect(zd.tokensIssued()).toBe(2);
  });

  it("throws AuthError when the client credentials are wrong", async () => {
    const zd = await fake();
    const error = await failure(
      adapter(zd, { auth: { ...clientCredentials, client_secret: "wrong" } }).deliver(request(1)),
    );
    expect(error).toBeInstanceOf(AuthError);
    expect(zd.tokensIssued()).toBe(0);
  });
});

describe("zendesk adapter: ambiguous failures and duplicates", () => {
  it("after a 503 that committed the create, the retry finds the ticket: still one ticket, one comment", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    zd.faults.next({ kind: "after_commit", status: 503 }, 1, (r) => r.method === "POST");
    expect(await failure(zendesk.deliver(request(1)))).toBeInstanceOf(RetryableDeliveryError);
    const retry = await zendesk.deliver(request(1));
    expect(zd.records()).toHaveLength(1);
    expect(retry.recordId).toBe(String(zd.records()[0]?.id));
    expect(zd.records()[0]?.comments).toHaveLength(1);
  });

  it("after an update whose connection dropped once applied, the retry adds no second comment", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    const recordId = (await zendesk.deliver(request(1))).recordId ?? "";
    zd.faults.next({ kind: "drop_after_commit" }, 1, (r) => r.method === "PUT");
    expect(await failure(zendesk.deliver(request(2, { version: 1, recordId })))).toBeInstanceOf(
      RetryableDeliveryError,
    );
    await zendesk.deliver(request(2, { version: 1, recordId }));
    expect(zd.records()[0]?.comments).toHaveLength(2);
  });

  it("two concurrent creates of one version share the Idempotency-Key: one ticket", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    zd.faults.next({ kind: "hold" }, 1, (r) => r.method === "POST");
    const first = zendesk.deliver(request(1));
    const held = await zd.faults.waitForHeld();
    const second = await zendesk.deliver(request(1));
    held.release();
    expect((await first).recordId).toBe(second.recordId);
    expect(zd.records()).toHaveLength(1);
  });

  it("updates the oldest of several tickets sharing the external_id", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    await zendesk.deliver(request(1));
    // Zendesk does not keep external_id unique: a second ticket for the same handoff, made elsewhere.
    const auth = `Basic ${Buffer.from(`${FAKE_ZENDESK_API_TOKEN.email}/token:${FAKE_ZENDESK_API_TOKEN.token}`).toString("base64")}`;
    await fetch(`${zd.url}/api/v2/tickets`, {
      method: "POST",
      headers: { authorization: auth, "content-type": "application/json" },
      body: JSON.stringify({ ticket: { comment: { body: "by hand" }, external_id: KEY } }),
    });
    const result = await zendesk.deliver(request(2));
    const [oldest, newer] = zd.records();
    expect(result.recordId).toBe(String(oldest?.id));
    expect(oldest?.comments).toHaveLength(2);
    expect(newer?.comments).toHaveLength(1);
  });

  it("a conflicting agent edit between read and write answers 409: retryable, and the retry keeps the agent's change", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    const recordId = (await zendesk.deliver(request(1))).recordId ?? "";
    zd.faults.next({ kind: "hold" }, 1, (r) => r.method === "PUT");
    const pending = failure(zendesk.deliver(request(2, { version: 1, recordId })));
    const held = await zd.faults.waitForHeld();
    zd.editTicket(Number(recordId), { tags: ["handoff_sync", "handoff_v1", "escalated"] });
    held.release();
    const error = await pending;
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status: 409 });
    await zendesk.deliver(request(2, { version: 1, recordId }));
    expect(zd.records()[0]?.tags).toEqual(["handoff_sync", "escalated", "handoff_v2"]);
    expect(zd.records()[0]?.comments).toHaveLength(2);
  });
});

describe("zendesk adapter: a ticket deleted or closed in Zendesk", () => {
  it("recreates a deleted ticket by default", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    const recordId = (await zendesk.deliver(request(1))).recordId ?? "";
    zd.deleteTicket(Number(recordId));
    const result = await zendesk.deliver(request(2, { version: 1, recordId }));
    expect(result.status).toBe(201);
    expect(result.recordId).not.toBe(recordId);
    expect(zd.records()).toEqual([
      expect.objectContaining({
        id: Number(result.recordId),
        external_id: KEY,
        tags: ["handoff_sync", "handoff_v2"],
      }),
    ]);
  });

  it("recreating the same version after a deletion does not get the deleted ticket back from the idempotency cache", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    const recordId = (await zendesk.deliver(request(1))).recordId ?? "";
    zd.deleteTicket(Number(recordId));
    const result = await zendesk.deliver(request(1, { version: 1, recordId }));
    expect(result.recordId).not.toBe(recordId);
    expect(zd.records()).toHaveLength(1);
  });

  it("parks the destination when on_missing_record is park", async () => {
    const zd = await fake();
    const zendesk = adapter(zd, { on_missing_record: "park" });
    const recordId = (await zendesk.deliver(request(1))).recordId ?? "";
    zd.deleteTicket(Number(recordId));
    const error = await failure(zendesk.deliver(request(2, { version: 1, recordId })));
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as DestinationError).adminHint).toMatch(/on_missing_record: recreate/);
    expect(zd.records()).toHaveLength(0);
  });

  it("opens a follow-up ticket when the ledger's ticket was closed", async () => {
    const zd = await fake();
    const zendesk = adapter(zd);
    const recordId = (await zendesk.deliver(request(1))).recordId ?? "";
    zd.editTicket(Number(recordId), { status: "closed" });
    const result = await zendesk.deliver(request(2, { version: 1, recordId }));
    expect(result.recordId).not.toBe(recordId);
    expect(zd.ticket(Number(result.recordId))).toMatchObject({ via_followup_source_id: Number(recordId) });
  });
});

describe("zendesk adapter: keys that look like paths", () => {
  it("finds and updates the ticket of a key of '.', '..' or with slashes (the key travels in the query)", async () => {
    const zd = await fake();
    const support = adapter(zd);
    const keys = [".", "..", "acme/1", "../tickets"];
    for (const key of keys) {
      const first = await support.deliver({ ...request(1), snapshot: { ...snapshot(1), key } });
      // Without the ledger's id the second version looks the ticket up by external_id.
      const second = await support.deliver({ ...request(2), snapshot: { ...snapshot(2), key } });
      expect(second.recordId, key).toBe(first.recordId);
    }
    expect(zd.records().map((t) => t.external_id)).toEqual(keys);
  });
});
