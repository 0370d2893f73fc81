import {
  AuthError,
  DestinationError,
  HandoffSnapshotSchema,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import { startFakeServiceNow, type FakeServiceNow, type FakeServiceNowOptions } from "@handoff-sync/testing";
import { afterEach, describe, expect, it } from "vitest";
import type { Adapter, DeliveryRequest } from "../contract.js";
import { createAdapter } from "../registry.js";
import { createServiceNowAdapter, type ServiceNowAdapterOptions, type ServiceNowConfig } from "./adapter.js";
import { KeyedLock } from "./key-lock.js";

// Real HTTP against the fake instance on 127.0.0.1; neither Kafka nor Redis.

const BASIC = { method: "basic", username: "integration.user", password: "integration-password" } as const;
const OAUTH = {
  method: "oauth",
  grant_type: "password",
  client_id: "fake-client-id",
  client_secret: "fake-client-secret",
  username: "integration.user",
  password: "integration-password",
} as const;

const fakes: FakeServiceNow[] = [];
const adapters: Adapter[] = [];
afterEach(async () => {
  await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function fakeInstance(options: FakeServiceNowOptions = {}): Promise<FakeServiceNow> {
  const fake = await startFakeServiceNow(options);
  fakes.push(fake);
  return fake;
}

function config(fake: FakeServiceNow, overrides: Partial<ServiceNowConfig> = {}): ServiceNowConfig {
  return {
    type: "servicenow",
    instance_url: fake.url,
    table: "incident",
    auth: BASIC,
    version_field: "u_handoff_version",
    on_missing_record: "recreate",
    allow_private_network: true,
    timeout_ms: 2_000,
    concurrency: 2,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    ...overrides,
  };
}

function adapter(
  fake: FakeServiceNow,
  overrides: Partial<ServiceNowConfig> = {},
  options: ServiceNowAdapterOptions = {},
): Adapter {
  // Each test gets its own lock unless it shares one on purpose.
  const created = createServiceNowAdapter("snow", config(fake, overrides), {
    lock: new KeyedLock(),
    ...options,
  });
  adapters.push(created);
  return created;
}

const at = "2025-03-01T10:00:00.000Z";
function snapshot(version = 1, key = "conv-1"): HandoffSnapshot {
  return HandoffSnapshotSchema.parse({
    schema_version: 1,
    key,
    id: key,
    state: version === 1 ? "handoff_initiated" : "handoff_completed",
    stage: version === 1 ? "initiated" : "completed",
    version,
    occurred_at: at,
    data: { customer_id: "C-42" },
    reason: "billing question",
    history: [
      {
        event_id: "e1",
        id: key,
        state: "handoff_initiated",
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

function request(version = 1, previous?: DeliveryRequest["previous"], key = "conv-1"): DeliveryRequest {
  return {
    snapshot: snapshot(version, key),
    destination: "snow",
    ...(previous === undefined ? {} : { previous }),
  };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("expected the delivery to fail"),
    (error: unknown) => error,
  );
}

const onPost = ({ method }: { method: string }) => method === "POST";
const onTable = ({ path }: { path: string }) => path.startsWith("/api/now/table/");

describe("ServiceNow adapter: create and update", () => {
  it("looks the handoff up by correlation_id, then creates the incident", async () => {
    const fake = await fakeInstance();
    const result = await adapter(fake).deliver(request(1));
    const [record] = fake.records();
    expect(result).toEqual({ recordId: record?.sys_id, status: 201 });
    expect(record).toMatchObject({
      number: "INC0010001",
      correlation_id: "conv-1",
      correlation_display: "handoff-sync",
      u_handoff_version: "1",
      short_description: "billing question",
    });
    expect(record?.description).toContain("Customer: C-42");
    expect(fake.journal(record?.sys_id ?? "")).toHaveLength(1);
    expect(fake.requests.map(({ method }) => method)).toEqual(["GET", "POST"]);
  });

  it("updates the same record for a later version, straight through the ledger's record id", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake);
    const first = await snow.deliver(request(1));
    const second = await snow.deliver(
      request(2, { version: 1, ...(first.recordId ? { recordId: first.recordId } : {}) }),
    );
    expect(second).toEqual({ recordId: first.recordId, status: 200 });
    expect(fake.records()).toHaveLength(1);
    expect(fake.records()[0]).toMatchObject({ u_handoff_version: "2", sys_mod_count: "1" });
    expect(fake.writes.all().map(({ operation, version }) => [operation, version])).toEqual([
      ["create", 1],
      ["update", 2],
    ]);
    expect(fake.requests.map(({ method }) => method)).toEqual(["GET", "POST", "PATCH"]);
  });

  it("finds the record by correlation_id when the ledger has no record id", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake);
    const first = await snow.deliver(request(1));
    const second = await snow.deliver(request(2));
    expect(second).toEqual({ recordId: first.recordId, status: 200 });
    expect(fake.records()).toHaveLength(1);
  });

  it("skips the write when ServiceNow already holds a newer version (the version guard)", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake);
    const newer = await snow.deliver(request(5));
    const older = await snow.deliver(request(3));
    expect(older).toEqual({ recordId: newer.recordId, status: 200 });
    expect(fake.records()[0]?.u_handoff_version).toBe("5");
    expect(fake.writes.all()).toHaveLength(1);
  });

  it("is reachable through the registry", async () => {
    const fake = await fakeInstance();
    const snow = createAdapter("snow", config(fake));
    adapters.push(snow);
    expect(snow.type).toBe("servicenow");
    await expect(snow.deliver(request(1))).resolves.toHaveProperty("status", 201);
  });

  it("writes to another table, such as interaction", async () => {
    const fake = await fakeInstance();
    await adapter(fake, { table: "interaction" }).deliver(request(1));
    expect(fake.records("interaction")).toHaveLength(1);
    expect(fake.records("interaction")[0]?.number).toBe("IMS0010001");
  });

  it("gives keys ServiceNow cannot query verbatim a digest as correlation_id, and still finds them", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake);
    const key = "tenant^NQ 7";
    const first = await snow.deliver(request(1, undefined, key));
    await snow.deliver(request(2, undefined, key));
    expect(fake.records()).toHaveLength(1);
    expect(fake.records()[0]).toMatchObject({
      sys_id: first.recordId,
      correlation_id: expect.stringMatching(/^hs-sha256-/) as unknown,
    });
  });
});

describe("ServiceNow adapter: one record per handoff", () => {
  it("serialises concurrent deliveries of one handoff, across adapter instances too", async () => {
    const fake = await fakeInstance();
    const lock = new KeyedLock();
    const one = adapter(fake, {}, { lock });
    const two = adapter(fake, {}, { lock });
    const results = await Promise.all([
      one.deliver(request(1)),
      two.deliver(request(1)),
      one.deliver(request(2)),
    ]);
    expect(fake.records()).toHaveLength(1);
    expect(new Set(results.map((result) => result.recordId)).size).toBe(1);
    expect(fake.records()[0]?.u_handoff_version).toBe("2");
  });

  it("after a 503 that committed the create, the retry finds the record and adds nothing", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake);
    fake.faults.next({ kind: "after_commit", status: 503 }, 1, onPost);
    const error = await failure(snow.deliver(request(1)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toHaveProperty("status", 503);
    const retried = await snow.deliver(request(1));
    expect(fake.records()).toHaveLength(1);
    expect(retried.recordId).toBe(fake.records()[0]?.sys_id);
    // The equal version counts as written: the work note is not repeated.
    expect(fake.journal(retried.recordId ?? "")).toHaveLength(1);
    expect(fake.writes.all()).toHaveLength(1);
  });

  it("after a dropped connection that committed the create, the retry still leaves one record", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake);
    fake.faults.next({ kind: "drop_after_commit" }, 1, onPost);
    expect(await failure(snow.deliver(request(1)))).toBeInstanceOf(RetryableDeliveryError);
    await snow.deliver(request(1));
    expect(fake.records()).toHaveLength(1);
  });

  it("a timeout on a slow create is retryable and the retry still leaves one record", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake, { timeout_ms: 150 });
    fake.faults.next({ kind: "delay", ms: 400 }, 1, onPost);
    const error = await failure(snow.deliver(request(1)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toHaveProperty("message", expect.stringContaining("timed out") as unknown);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await snow.deliver(request(1));
    expect(fake.records()).toHaveLength(1);
  });
});

describe("ServiceNow adapter: a record deleted in ServiceNow", () => {
  it("recreates it by default", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake);
    const first = await snow.deliver(request(1));
    fake.deleteRecord("incident", first.recordId ?? "");
    const second = await snow.deliver(request(2, { version: 1, recordId: first.recordId ?? "" }));
    expect(second.status).toBe(201);
    expect(second.recordId).not.toBe(first.recordId);
    expect(fake.records()).toEqual([
      expect.objectContaining({ sys_id: second.recordId, u_handoff_version: "2" }),
    ]);
  });

  it("parks the destination when on_missing_record is park", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake, { on_missing_record: "park" });
    const first = await snow.deliver(request(1));
    fake.deleteRecord("incident", first.recordId ?? "");
    const error = await failure(snow.deliver(request(2, { version: 1, recordId: first.recordId ?? "" })));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toMatchObject({ status: 404, scope: "destination" });
    expect(error).toHaveProperty("adminHint", expect.stringContaining("on_missing_record") as unknown);
    expect(fake.records()).toHaveLength(0);
  });
});

describe("ServiceNow adapter: errors", () => {
  it("a 500 is retryable and carries the excerpt", async () => {
    const fake = await fakeInstance();
    fake.faults.next(
      {
        kind: "status",
        status: 500,
        contentType: "application/json",
        body: JSON.stringify({
          error: { message: "Internal error", detail: "password=hunter2" },
          status: "failure",
        }),
      },
      1,
      onPost,
    );
    const error = await failure(adapter(fake).deliver(request(1)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toHaveProperty("status", 500);
    expect(error).toHaveProperty("responseExcerpt", expect.stringContaining("Internal error") as unknown);
    expect(error).toHaveProperty("responseExcerpt", expect.not.stringContaining("hunter2") as unknown);
    expect(fake.records()).toHaveLength(0);
  });

  it("a 429 from the instance's rate limit is retryable with Retry-After", async () => {
    const now = 1_700_000_010_000;
    const fake = await fakeInstance({ rateLimit: { limit: 1, windowSec: 60 }, nowMs: () => now });
    const error = await failure(adapter(fake, {}, { nowMs: () => now }).deliver(request(1)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 30_000 });
  });

  it("a data policy refusing the record is record-level permanent", async () => {
    const fake = await fakeInstance({ mandatoryFields: ["assignment_group"] });
    const error = await failure(adapter(fake).deliver(request(1)));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status: 403, scope: "record" });
    expect(error).toHaveProperty(
      "responseExcerpt",
      expect.stringContaining("Data Policy Exception") as unknown,
    );
  });

  it("a 400 on the write is record-level permanent", async () => {
    const fake = await fakeInstance();
    fake.faults.next(
      {
        kind: "status",
        status: 400,
        contentType: "application/json",
        body: '{"error":{"message":"Bad request","detail":null},"status":"failure"}',
      },
      1,
      onPost,
    );
    expect(await failure(adapter(fake).deliver(request(1)))).toBeInstanceOf(PermanentDeliveryError);
  });

  it("an unknown table parks the destination", async () => {
    const fake = await fakeInstance();
    const error = await failure(adapter(fake, { table: "u_nope" }).deliver(request(1)));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toHaveProperty("adminHint", expect.stringContaining("table") as unknown);
  });

  it("ACLs forbidding writes are an AuthError", async () => {
    const fake = await fakeInstance({ readOnly: true });
    const error = await failure(adapter(fake).deliver(request(1)));
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toHaveProperty("status", 403);
  });

  it("with Basic, a 401 is an AuthError at once", async () => {
    const fake = await fakeInstance();
    const error = await failure(adapter(fake, { auth: { ...BASIC, password: "wrong" } }).deliver(request(1)));
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toHaveProperty("status", 401);
    expect(fake.requests).toHaveLength(1);
  });

  it("a table without correlation_id parks the destination instead of writing to a stranger's record", async () => {
    const fake = await fakeInstance({ tables: { u_custom: ["short_description", "u_handoff_version"] } });
    const snow = adapter(fake, { table: "u_custom" });
    await snow.deliver(request(1, undefined, "conv-1"));
    const error = await failure(snow.deliver(request(1, undefined, "conv-2")));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toHaveProperty("adminHint", expect.stringContaining("correlation_id") as unknown);
    expect(fake.writes.all()).toHaveLength(1);
  });

  it("a table without the version field parks the destination", async () => {
    const fake = await fakeInstance({
      tables: { incident: ["short_description", "correlation_id", "correlation_display"] },
    });
    const error = await failure(adapter(fake).deliver(request(1)));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toHaveProperty("adminHint", expect.stringContaining("u_handoff_version") as unknown);
  });
});

describe("ServiceNow adapter: OAuth", () => {
  it("caches the token by expires_in and mints a new one when it runs out", async () => {
    let now = 1_700_000_000_000;
    const fake = await fakeInstance({ tokenExpiresInSec: 600, nowMs: () => now });
    const snow = adapter(fake, { auth: OAUTH }, { nowMs: () => now });
    await snow.deliver(request(1));
    await snow.deliver(request(2));
    expect(fake.tokensIssued()).toBe(1);
    now += 600_000;
    await snow.deliver(request(3));
    expect(fake.tokensIssued()).toBe(2);
    expect(fake.records()).toHaveLength(1);
  });

  it("renews a token the instance stopped accepting once, then succeeds", async () => {
    const fake = await fakeInstance({ tokenMaxRequests: 1 });
    const result = await adapter(fake, { auth: OAUTH }).deliver(request(1));
    expect(result.status).toBe(201);
    expect(fake.tokensIssued()).toBe(2);
    expect(fake.requests.map(({ method, path }) => `${method} ${path}`)).toEqual([
      "POST /oauth_token.do",
      "GET /api/now/table/incident",
      "POST /api/now/table/incident",
      "POST /oauth_token.do",
      "POST /api/now/table/incident",
    ]);
  });

  it("renews only once per delivery: a second 401 is an AuthError", async () => {
    const fake = await fakeInstance();
    const unauthorized = JSON.stringify({
      error: { message: "User Not Authenticated", detail: "Required to provide Auth information" },
      status: "failure",
    });
    fake.faults.next(
      { kind: "status", status: 401, contentType: "application/json", body: unauthorized },
      2,
      onTable,
    );
    const error = await failure(adapter(fake, { auth: OAUTH }).deliver(request(1)));
    expect(error).toBeInstanceOf(AuthError);
    expect(fake.tokensIssued()).toBe(2);
    expect(fake.records()).toHaveLength(0);
  });

  it("refused client credentials are an AuthError", async () => {
    const fake = await fakeInstance();
    const error = await failure(
      adapter(fake, {
        auth: {
          method: "oauth",
          grant_type: "client_credentials",
          client_id: "fake-client-id",
          client_secret: "wrong",
        },
      }).deliver(request(1)),
    );
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toHaveProperty("adminHint", expect.stringContaining("client_secret") as unknown);
  });

  it("works with the refresh_token grant", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake, {
      auth: {
        method: "oauth",
        grant_type: "refresh_token",
        client_id: "fake-client-id",
        client_secret: "fake-client-secret",
        refresh_token: "fake-refresh-token",
      },
    });
    await expect(snow.deliver(request(1))).resolves.toHaveProperty("status", 201);
  });
});

describe("servicenow adapter: keys that look like paths", () => {
  it("finds the record of a key of '.', '..' or with slashes again (the key travels in the query, hashed when unsafe)", async () => {
    const fake = await fakeInstance();
    const snow = adapter(fake);
    const keys = [".", "..", "acme/1", "../incident"];
    for (const key of keys) {
      const first = await snow.deliver(request(1, undefined, key));
      const second = await snow.deliver(request(2, undefined, key));
      expect(second.recordId, key).toBe(first.recordId);
    }
    expect(fake.records("incident")).toHaveLength(keys.length);
  });
});
