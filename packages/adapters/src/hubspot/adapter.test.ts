import {
  AuthError,
  DestinationError,
  HandoffSnapshotSchema,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import { startFakeHubSpot, type FakeHubSpot, type FakeHubSpotOptions } from "@handoff-sync/testing";
import { afterEach, describe, expect, it } from "vitest";
import type { Adapter, DeliveryRequest } from "../contract.js";
import { createAdapter } from "../registry.js";
import { createHubSpotAdapter, type HubSpotConfig } from "./adapter.js";

// Real HTTP on 127.0.0.1 against the fake HubSpot; no Kafka or Redis.

const TOKEN = "pat-na1-fake";
const OAUTH = { clientId: "client-1", clientSecret: "secret-1", refreshToken: "refresh-1" };

let fake: FakeHubSpot | undefined;
const adapters: Adapter[] = [];

afterEach(async () => {
  await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
  await fake?.close();
  fake = undefined;
});

async function start(options: FakeHubSpotOptions = {}): Promise<FakeHubSpot> {
  fake = await startFakeHubSpot(options);
  return fake;
}

function config(hubspot: FakeHubSpot, overrides: Partial<HubSpotConfig> = {}): HubSpotConfig {
  return {
    type: "hubspot",
    base_url: hubspot.url,
    auth: { method: "private_app", token: TOKEN },
    object: "tickets",
    id_property: "handoff_key",
    version_property: "handoff_version",
    contact_association: {
      enabled: true,
      path: "data.hubspot_contact_id",
      association_type_id: 16,
      association_category: "HUBSPOT_DEFINED",
    },
    on_missing_record: "recreate",
    allow_private_network: true,
    timeout_ms: 2_000,
    concurrency: 2,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    ...overrides,
  };
}

function adapter(
  hubspot: FakeHubSpot,
  overrides: Partial<HubSpotConfig> = {},
  nowMs?: () => number,
): Adapter {
  const created = createHubSpotAdapter(
    "hubspot-support",
    config(hubspot, overrides),
    nowMs === undefined ? {} : { nowMs },
  );
  adapters.push(created);
  return created;
}

const at = "2026-03-01T10:00:00.000Z";
function snapshot(
  version = 1,
  data: Record<string, unknown> = { customer_id: "C-42" },
  state = "handoff_initiated",
): HandoffSnapshot {
  const stage = state === "handoff_completed" ? "completed" : "initiated";
  return HandoffSnapshotSchema.parse({
    schema_version: 1,
    key: "conv-1",
    id: "conv-1",
    state,
    stage,
    version,
    occurred_at: at,
    data,
    reason: "billing question",
    history: [
      { event_id: `e${version}`, id: "conv-1", state, stage, occurred_at: at, received_at: at, data },
    ],
    created_at: at,
    updated_at: at,
  });
}

function request(snap: HandoffSnapshot, previous?: DeliveryRequest["previous"]): DeliveryRequest {
  return { snapshot: snap, destination: "hubspot-support", ...(previous === undefined ? {} : { previous }) };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("expected the delivery to fail"),
    (error: unknown) => error,
  );
}

describe("hubspot adapter: writes", () => {
  it("creates a ticket by upsert on handoff_key with the default mapping", async () => {
    const hubspot = await start();
    const result = await adapter(hubspot).deliver(request(snapshot(1)));
    const [record] = hubspot.records("tickets");
    expect(result).toEqual({ recordId: record?.id, status: 200 });
    expect(record?.properties).toMatchObject({
      subject: "Handoff conv-1: handoff_initiated",
      content: "billing question",
      hs_pipeline: "0",
      hs_pipeline_stage: "1",
      handoff_state: "handoff_initiated",
      handoff_key: "conv-1",
      handoff_version: "1",
    });
    expect(hubspot.writes.all()).toMatchObject([{ operation: "create", externalId: "conv-1", version: 1 }]);
  });

  it("updates the same record with a later version", async () => {
    const hubspot = await start();
    const hs = adapter(hubspot);
    const first = await hs.deliver(request(snapshot(1)));
    const second = await hs.deliver(
      request(snapshot(2, {}, "handoff_completed"), { version: 1, recordId: first.recordId ?? "" }),
    );
    expect(second.recordId).toBe(first.recordId);
    expect(hubspot.records("tickets")).toHaveLength(1);
    expect(hubspot.records("tickets")[0]?.properties).toMatchObject({
      hs_pipeline_stage: "4",
      handoff_version: "2",
    });
    expect(hubspot.writes.all().map((w) => [w.operation, w.version])).toEqual([
      ["create", 1],
      ["update", 2],
    ]);
  });

  it("is reachable through the registry", async () => {
    const hubspot = await start();
    const created = createAdapter("hubspot-support", config(hubspot));
    adapters.push(created);
    expect(created.type).toBe("hubspot");
    await expect(created.deliver(request(snapshot()))).resolves.toHaveProperty("status", 200);
  });

  it("uses a configured mapping and object, always adding the key and version", async () => {
    const hubspot = await start();
    await adapter(hubspot, {
      object: "contacts",
      mapping: { firstname: { path: "data.first_name" } },
    }).deliver(request(snapshot(3, { first_name: "Ada" })));
    expect(hubspot.records("contacts")[0]?.properties).toMatchObject({
      firstname: "Ada",
      handoff_key: "conv-1",
      handoff_version: "3",
    });
  });

  it("associates the ticket with the contact the handoff names (type 16)", async () => {
    const hubspot = await start({ contacts: ["501"] });
    const result = await adapter(hubspot).deliver(request(snapshot(1, { hubspot_contact_id: 501 })));
    expect(hubspot.associations()).toEqual([
      {
        fromObject: "tickets",
        fromId: result.recordId,
        toObject: "contacts",
        toId: "501",
        category: "HUBSPOT_DEFINED",
        typeId: 16,
      },
    ]);
  });

  it("a missing contact is record-level permanent, after the ticket was written", async () => {
    const hubspot = await start();
    const error = await failure(
      adapter(hubspot).deliver(request(snapshot(1, { hubspot_contact_id: "999" }))),
    );
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status: 404 });
    expect(hubspot.records("tickets")).toHaveLength(1);
  });

  it("a contact id that cannot be a record id is record-level permanent", async () => {
    const hubspot = await start();
    const error = await failure(
      adapter(hubspot).deliver(request(snapshot(1, { hubspot_contact_id: "ada@example.com" }))),
    );
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toHaveProperty("message", expect.stringContaining("without the association") as unknown);
  });

  it("a wrong association type parks the destination", async () => {
    const hubspot = await start({ contacts: ["501"] });
    const error = await failure(
      adapter(hubspot, {
        contact_association: {
          enabled: true,
          path: "data.hubspot_contact_id",
          association_type_id: 1,
          association_category: "HUBSPOT_DEFINED",
        },
      }).deliver(request(snapshot(1, { hubspot_contact_id: "501" }))),
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toHaveProperty("adminHint", expect.stringContaining("association_type_id") as unknown);
  });
});

describe("hubspot adapter: errors", () => {
  it("5xx is retryable with a redacted excerpt", async () => {
    const hubspot = await start();
    hubspot.faults.next({
      kind: "status",
      status: 502,
      body: '{"message":"bad gateway","token":"abc"}',
      contentType: "application/json",
    });
    const error = await failure(adapter(hubspot).deliver(request(snapshot())));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({
      status: 502,
      responseExcerpt: '{"message":"bad gateway","token":"[REDACTED]"}',
    });
  });

  it("429 TEN_SECONDLY_ROLLING is retryable after Retry-After", async () => {
    const now = Date.parse("2026-03-01T10:00:00Z");
    const hubspot = await start({ now: () => now, rateLimits: { tenSecondly: 1 } });
    const hs = adapter(hubspot, {}, () => now);
    await hs.deliver(request(snapshot()));
    const error = await failure(hs.deliver(request(snapshot(2))));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 10_000 });
  });

  it("429 TEN_SECONDLY_ROLLING without Retry-After waits 10 s", async () => {
    const hubspot = await start({ rateLimits: { tenSecondly: 1 }, sendRetryAfter: false });
    const hs = adapter(hubspot);
    await hs.deliver(request(snapshot()));
    expect(await failure(hs.deliver(request(snapshot(2))))).toMatchObject({
      status: 429,
      retryAfterMs: 10_000,
    });
  });

  it("429 DAILY parks the destination until the next UTC midnight", async () => {
    const now = Date.parse("2026-03-01T22:00:00Z");
    const hubspot = await start({ now: () => now, rateLimits: { daily: 1 } });
    const hs = adapter(hubspot, {}, () => now);
    await hs.deliver(request(snapshot()));
    const error = await failure(hs.deliver(request(snapshot(2))));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 2 * 3_600_000 });
  });

  it("a value HubSpot refuses for our input (207) is record-level permanent", async () => {
    const hubspot = await start();
    hubspot.rejectInput("conv-1", {
      category: "VALIDATION_ERROR",
      message: 'Property values were not valid: [{"error":"INVALID_OPTION"}]',
    });
    const error = await failure(adapter(hubspot).deliver(request(snapshot())));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({
      status: 207,
      responseExcerpt: expect.stringContaining("INVALID_OPTION") as unknown,
    });
  });

  it("an option the portal does not allow is answered per input (207), record-level", async () => {
    const hubspot = await start();
    const error = await failure(
      adapter(hubspot, { mapping: { hs_ticket_priority: { literal: "SOMETIMES" } } }).deliver(
        request(snapshot()),
      ),
    );
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status: 207 });
    expect(hubspot.records()).toHaveLength(0);
  });

  it("an unknown property parks the destination and writes nothing", async () => {
    const hubspot = await start();
    const error = await failure(
      adapter(hubspot, { mapping: { no_such_property: { literal: "x" } } }).deliver(request(snapshot())),
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toMatchObject({ status: 400, adminHint: expect.stringContaining("property") as unknown });
    expect(hubspot.writes.all()).toEqual([]);
  });

  it("an id_property without unique values parks the destination", async () => {
    const hubspot = await start();
    const error = await failure(
      adapter(hubspot, { id_property: "handoff_state" }).deliver(request(snapshot())),
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toHaveProperty("adminHint", expect.stringContaining("id_property") as unknown);
  });

  it("a refused private app token is an AuthError, without any renewal", async () => {
    const hubspot = await start({ privateAppTokens: ["pat-na1-other"] });
    const error = await failure(adapter(hubspot).deliver(request(snapshot())));
    expect(error).toBeInstanceOf(AuthError);
    expect(hubspot.requests.filter((r) => r.path === "/oauth/v1/token")).toHaveLength(0);
  });

  it("a missing scope is an AuthError", async () => {
    const hubspot = await start({ scopes: ["crm.objects.contacts.write"] });
    const error = await failure(adapter(hubspot).deliver(request(snapshot())));
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ status: 403 });
  });

  it("a slow answer times out as retryable", async () => {
    const hubspot = await start();
    hubspot.faults.next({ kind: "delay", ms: 600 });
    const error = await failure(adapter(hubspot, { timeout_ms: 150 }).deliver(request(snapshot())));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
  });
});

describe("hubspot adapter: OAuth", () => {
  const oauth = {
    method: "oauth" as const,
    client_id: OAUTH.clientId,
    client_secret: OAUTH.clientSecret,
    refresh_token: OAUTH.refreshToken,
  };

  it("mints a token once and reuses it while it is valid", async () => {
    const hubspot = await start({ oauth: OAUTH });
    const hs = adapter(hubspot, { auth: oauth });
    await hs.deliver(request(snapshot(1)));
    await hs.deliver(request(snapshot(2)));
    expect(hubspot.tokens.tokensIssued).toBe(1);
  });

  it("renews by expires_in before the token runs out, without a 401", async () => {
    let now = Date.parse("2026-03-01T10:00:00Z");
    const hubspot = await start({ now: () => now, oauth: { ...OAUTH, expiresInSec: 300 } });
    const hs = adapter(hubspot, { auth: oauth }, () => now);
    await hs.deliver(request(snapshot(1)));
    now += 250_000; // Inside the renewal margin, still before HubSpot's expiry.
    await hs.deliver(request(snapshot(2)));
    expect(hubspot.tokens.tokensIssued).toBe(2);
    expect(hubspot.requests.filter((r) => r.path.includes("batch/upsert"))).toHaveLength(2);
  });

  it("renews once on a 401 and succeeds", async () => {
    const hubspot = await start({ oauth: { ...OAUTH, tokenMaxRequests: 1 } });
    const hs = adapter(hubspot, { auth: oauth });
    await hs.deliver(request(snapshot(1)));
    await expect(hs.deliver(request(snapshot(2)))).resolves.toHaveProperty("status", 200);
    expect(hubspot.tokens.tokensIssued).toBe(2);
    expect(hubspot.records("tickets")).toHaveLength(1);
  });

  it("a second 401 after the renewal is an AuthError", async () => {
    const hubspot = await start({ oauth: { ...OAUTH, tokenMaxRequests: 0 } });
    const error = await failure(adapter(hubspot, { auth: oauth }).deliver(request(snapshot())));
    expect(error).toBeInstanceOf(AuthError);
    expect(hubspot.tokens.tokensIssued).toBe(2);
  });

  it("a refused refresh token is an AuthError", async () => {
    const hubspot = await start({ oauth: OAUTH });
    const error = await failure(
      adapter(hubspot, { auth: { ...oauth, refresh_token: "revoked" } }).deliver(request(snapshot())),
    );
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({
      status: 400,
      adminHint: expect.stringContaining("re-authorise") as unknown,
    });
    expect(hubspot.writes.all()).toEqual([]);
  });
});

describe("hubspot adapter: ambiguous failures and deleted records", () => {
  it("a 503 after the write committed, then a retry: still one record", async () => {
    const hubspot = await start();
    hubspot.faults.next({ kind: "after_commit", status: 503 });
    const hs = adapter(hubspot);
    expect(await failure(hs.deliver(request(snapshot())))).toBeInstanceOf(RetryableDeliveryError);
    const retried = await hs.deliver(request(snapshot()));
    expect(hubspot.records("tickets")).toHaveLength(1);
    expect(retried.recordId).toBe(hubspot.records("tickets")[0]?.id);
    expect(hubspot.writes.all().map((w) => w.operation)).toEqual(["create", "update"]);
  });

  it("a dropped connection after the write, then a retry: still one record", async () => {
    const hubspot = await start();
    hubspot.faults.next({ kind: "drop_after_commit" });
    const hs = adapter(hubspot);
    expect(await failure(hs.deliver(request(snapshot())))).toBeInstanceOf(RetryableDeliveryError);
    await hs.deliver(request(snapshot()));
    expect(hubspot.records("tickets")).toHaveLength(1);
  });

  it("recreates a record deleted in HubSpot (on_missing_record: recreate)", async () => {
    const hubspot = await start();
    const hs = adapter(hubspot);
    const first = await hs.deliver(request(snapshot(1)));
    hubspot.deleteRecord("tickets", first.recordId ?? "");
    const second = await hs.deliver(request(snapshot(2), { version: 1, recordId: first.recordId ?? "" }));
    expect(second.recordId).not.toBe(first.recordId);
    expect(hubspot.records("tickets").map((r) => r.id)).toEqual([second.recordId]);
  });

  it("parks instead when on_missing_record is park, creating nothing", async () => {
    const hubspot = await start();
    const hs = adapter(hubspot, { on_missing_record: "park" });
    const first = await hs.deliver(request(snapshot(1)));
    const updated = await hs.deliver(request(snapshot(2), { version: 1, recordId: first.recordId ?? "" }));
    expect(updated.recordId).toBe(first.recordId);
    hubspot.deleteRecord("tickets", first.recordId ?? "");
    const error = await failure(
      hs.deliver(request(snapshot(3), { version: 2, recordId: first.recordId ?? "" })),
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toMatchObject({
      status: 404,
      adminHint: expect.stringContaining("on_missing_record: recreate") as unknown,
    });
    expect(hubspot.records("tickets")).toHaveLength(0);
  });
});

describe("hubspot adapter: keys that look like paths", () => {
  it("upserts one record per key of '.', '..' or with slashes (the key travels in the body)", async () => {
    const hubspot = await start();
    const tickets = adapter(hubspot);
    const keys = [".", "..", "acme/1", "../objects"];
    for (const key of keys) {
      const first = await tickets.deliver(request({ ...snapshot(1), key }));
      const second = await tickets.deliver(request({ ...snapshot(2), key }));
      expect(second.recordId, key).toBe(first.recordId);
    }
    expect(hubspot.records("tickets").map((r) => r.properties["handoff_key"])).toEqual(keys);
  });
});
