import { generateKeyPairSync } from "node:crypto";
import {
  AuthError,
  DestinationError,
  HandoffSnapshotSchema,
  PermanentDeliveryError,
  QuotaExhaustedError,
  RetryableDeliveryError,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import {
  salesforceFault,
  startFakeSalesforce,
  type FakeSalesforce,
  type FakeSalesforceOptions,
} from "@handoff-sync/testing";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Adapter, DeliveryRequest } from "../contract.js";
import { createAdapter } from "../registry.js";
import { createSalesforceAdapter, type SalesforceConfig } from "./adapter.js";

// Real HTTP on 127.0.0.1 against the fake Salesforce; no Kafka or Redis.

const CLIENT_ID = "3MVG9-consumer-key";
const CLIENT_SECRET = "consumer-secret";
const USERNAME = "integration@acme.example";

let keys: { publicKey: string; privateKey: string };
beforeAll(() => {
  keys = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
});

let fake: FakeSalesforce | undefined;
const adapters: Adapter[] = [];
afterEach(async () => {
  await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
  await fake?.close();
  fake = undefined;
});

async function start(options: FakeSalesforceOptions = {}): Promise<FakeSalesforce> {
  fake = await startFakeSalesforce({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    jwt: { publicKey: keys.publicKey, username: USERNAME },
    ...options,
  });
  return fake;
}

function config(server: FakeSalesforce, overrides: Partial<SalesforceConfig> = {}): SalesforceConfig {
  return {
    type: "salesforce",
    instance_url: server.url,
    api_version: "62.0",
    auth: { method: "client_credentials", client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
    object: "Case",
    external_id_field: "Handoff_Key__c",
    version_field: "Handoff_Version__c",
    on_missing_record: "recreate",
    allow_private_network: true,
    timeout_ms: 2_000,
    concurrency: 2,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    ...overrides,
  };
}

function adapter(server: FakeSalesforce, overrides: Partial<SalesforceConfig> = {}): Adapter {
  const created = createSalesforceAdapter("sfdc", config(server, overrides));
  adapters.push(created);
  return created;
}

const at = "2025-03-01T10:00:00.000Z";
function snapshot(
  version = 1,
  state = "handoff_initiated",
  stage: "initiated" | "completed" | "failed" = "initiated",
  key = "conv-1",
): HandoffSnapshot {
  return HandoffSnapshotSchema.parse({
    schema_version: 1,
    key,
    id: key,
    state,
    stage,
    version,
    occurred_at: at,
    data: { customer_id: "C-42" },
    reason: "refund over limit",
    history: [
      {
        event_id: `e${version}`,
        id: key,
        state,
        stage,
        occurred_at: at,
        received_at: at,
        data: { customer_id: "C-42" },
      },
    ],
    created_at: at,
    updated_at: at,
  });
}

const request = (
  version = 1,
  previous?: DeliveryRequest["previous"],
  state?: string,
  stage?: "initiated" | "completed" | "failed",
): DeliveryRequest => ({
  snapshot: snapshot(version, state, stage),
  destination: "sfdc",
  ...(previous === undefined ? {} : { previous }),
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("expected the delivery to fail"),
    (error: unknown) => error,
  );
}

describe("salesforce adapter: writes", () => {
  it("creates a Case by external-id upsert with the version and the default mapping", async () => {
    const server = await start();
    const result = await adapter(server).deliver(request(1));
    expect(result).toEqual({ status: 201, recordId: expect.stringMatching(/^500/) as unknown });
    expect(server.records()).toEqual([
      {
        Id: result.recordId,
        Handoff_Key__c: "conv-1",
        Handoff_Version__c: 1,
        Subject: "AI handoff: refund over limit",
        Description: expect.stringContaining("Handoff conv-1 is handoff_initiated (initiated).") as unknown,
        Status: "New",
      },
    ]);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /services/oauth2/token",
      "PATCH /services/data/v62.0/sobjects/Case/Handoff_Key__c/conv-1",
    ]);
  });

  it("a later version updates the ledger's record by id", async () => {
    const server = await start();
    const sfdc = adapter(server);
    const first = await sfdc.deliver(request(1));
    const second = await sfdc.deliver(
      request(2, { version: 1, recordId: first.recordId ?? "" }, "handoff_completed", "completed"),
    );
    expect(second).toEqual({ status: 204, recordId: first.recordId });
    expect(server.records()).toEqual([
      expect.objectContaining({ Id: first.recordId, Handoff_Version__c: 2, Status: "Working" }),
    ]);
    expect(server.writes.all().map((w) => [w.operation, w.recordId, w.version])).toEqual([
      ["create", first.recordId, 1],
      ["update", first.recordId, 2],
    ]);
    expect(server.requests.at(-1)?.path).toBe(`/services/data/v62.0/sobjects/Case/${first.recordId}`);
  });

  it("without a ledger id, a redelivery upserts onto the same record", async () => {
    const server = await start();
    const sfdc = adapter(server);
    const first = await sfdc.deliver(request(1));
    await expect(sfdc.deliver(request(1))).resolves.toEqual({ status: 200, recordId: first.recordId });
    expect(server.records()).toHaveLength(1);
  });

  it("is reachable through the registry", async () => {
    const server = await start();
    const sfdc = createAdapter("sfdc", config(server));
    adapters.push(sfdc);
    expect(sfdc.type).toBe("salesforce");
    await expect(sfdc.deliver(request(1))).resolves.toHaveProperty("status", 201);
  });

  it("writes a custom object with a custom mapping, never sending Id or the key in the body", async () => {
    const server = await start({
      objects: { Handoff__c: { externalIdFields: ["Key__c"], fields: ["Customer__c", "Ver__c"] } },
      versionField: "Ver__c",
    });
    const sfdc = adapter(server, {
      object: "Handoff__c",
      external_id_field: "Key__c",
      version_field: "Ver__c",
      mapping: { Customer__c: { path: "data.customer_id" }, Id: { literal: "x" }, Key__c: { path: "key" } },
    });
    await sfdc.deliver(request(3));
    expect(server.records("Handoff__c")).toEqual([
      { Id: expect.any(String) as unknown, Key__c: "conv-1", Customer__c: "C-42", Ver__c: 3 },
    ]);
    expect(server.writes.all()[0]).toMatchObject({ version: 3, externalId: "conv-1" });
  });
});

describe("salesforce adapter: auth", () => {
  it("JWT bearer: signs an RS256 assertion the token endpoint verifies", async () => {
    const server = await start();
    const sfdc = adapter(server, {
      auth: {
        method: "jwt_bearer",
        client_id: CLIENT_ID,
        username: USERNAME,
        private_key: keys.privateKey,
        audience: "https://login.salesforce.com",
      },
    });
    await expect(sfdc.deliver(request(1))).resolves.toHaveProperty("status", 201);
  });

  it("JWT bearer with the wrong key, user or audience is an AuthError with a hint", async () => {
    const server = await start();
    const other = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    const jwt = {
      method: "jwt_bearer",
      client_id: CLIENT_ID,
      username: USERNAME,
      private_key: keys.privateKey,
      audience: "https://login.salesforce.com",
    } as const;
    for (const auth of [
      { ...jwt, private_key: other.privateKey },
      { ...jwt, username: "nobody@acme.example" },
      { ...jwt, audience: "https://test.salesforce.com" },
    ]) {
      const error = await failure(adapter(server, { auth }).deliver(request(1)));
      expect(error).toBeInstanceOf(AuthError);
      expect(error).toMatchObject({
        status: 400,
        adminHint: expect.stringContaining("private_key") as unknown,
      });
    }
    expect(server.records()).toEqual([]);
  });

  it("an unreadable private key parks the destination without calling Salesforce", async () => {
    const server = await start();
    const error = await failure(
      adapter(server, {
        auth: {
          method: "jwt_bearer",
          client_id: CLIENT_ID,
          username: USERNAME,
          private_key: "not a key",
          audience: "https://login.salesforce.com",
        },
      }).deliver(request(1)),
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect(server.requests).toEqual([]);
  });

  it("a wrong client secret is an AuthError", async () => {
    const server = await start();
    const error = await failure(
      adapter(server, {
        auth: { method: "client_credentials", client_id: CLIENT_ID, client_secret: "wrong" },
      }).deliver(request(1)),
    );
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toHaveProperty("responseExcerpt", expect.stringContaining("invalid_client") as unknown);
  });

  it("caches the token across deliveries and shares one token request between concurrent ones", async () => {
    const server = await start();
    const sfdc = adapter(server);
    await Promise.all(
      [1, 2, 3].map((version) =>
        sfdc.deliver({
          ...request(version),
          snapshot: snapshot(version, "handoff_initiated", "initiated", `conv-${version}`),
        }),
      ),
    );
    await sfdc.deliver(request(1));
    expect(server.tokensIssued()).toBe(1);
  });

  it("renews the session once on 401 INVALID_SESSION_ID", async () => {
    const server = await start({ sessionMaxRequests: 1 });
    const sfdc = adapter(server);
    const first = await sfdc.deliver(request(1));
    await expect(
      sfdc.deliver(request(2, { version: 1, recordId: first.recordId ?? "" })),
    ).resolves.toHaveProperty("status", 204);
    expect(server.tokensIssued()).toBe(2);
    expect(server.records()).toEqual([expect.objectContaining({ Handoff_Version__c: 2 })]);
  });

  it("a session refused again right after renewal is an AuthError, after exactly one renewal", async () => {
    const server = await start({ sessionMaxRequests: 0 });
    const error = await failure(adapter(server).deliver(request(1)));
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({
      status: 401,
      responseExcerpt: expect.stringContaining("INVALID_SESSION_ID") as unknown,
    });
    expect(server.tokensIssued()).toBe(2);
  });

  it("check() mints a session; preview() masks the credentials and sends nothing", async () => {
    const server = await start();
    const sfdc = adapter(server);
    const previews = sfdc.preview?.(request(1)) ?? [];
    expect(server.requests).toEqual([]);
    expect(previews.map((p) => [p.method, p.url])).toEqual([
      ["POST", `${server.url}/services/oauth2/token`],
      ["PATCH", `${server.url}/services/data/v62.0/sobjects/Case/Handoff_Key__c/conv-1`],
    ]);
    expect(previews[0]?.body).not.toContain(CLIENT_SECRET);
    expect(previews[1]?.headers["authorization"]).toBe("Bearer ****");
    expect(JSON.parse(previews[1]?.body ?? "{}")).toMatchObject({ Handoff_Version__c: 1, Status: "New" });
    await sfdc.check?.();
    expect(server.tokensIssued()).toBe(1);
    expect(server.requests.at(-1)).toMatchObject({ method: "GET", path: "/services/data/v62.0/limits" });
  });

  it("check() fails with the quota while the org's daily API requests are spent, and passes once they are not", async () => {
    const server = await start({ dailyApiLimit: 100 });
    const sfdc = adapter(server);
    server.setApiUsage(100);
    const error = await sfdc.check?.().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaExhaustedError);
    expect(error).toMatchObject({ message: expect.stringContaining("Remaining 0 of 100") as unknown });
    server.setApiUsage(40);
    await expect(sfdc.check?.()).resolves.toBeUndefined();
  });
});

describe("salesforce adapter: errors", () => {
  const upsertPath = (r: { path: string }) => r.path.includes("/sobjects/");

  it("503 is retryable with the error excerpt", async () => {
    const server = await start();
    server.faults.next(salesforceFault(503, "SERVER_UNAVAILABLE", "Server unavailable"), 1, upsertPath);
    const error = await failure(adapter(server).deliver(request(1)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({
      status: 503,
      responseExcerpt: expect.stringContaining("SERVER_UNAVAILABLE") as unknown,
    });
  });

  it("429 is retryable with Retry-After as retryAfterMs", async () => {
    const server = await start();
    server.faults.next(
      salesforceFault(429, "REQUEST_LIMIT_EXCEEDED", "slow down", { "Retry-After": "12" }),
      1,
      upsertPath,
    );
    const error = await failure(adapter(server).deliver(request(1)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toHaveProperty("retryAfterMs", 12_000);
  });

  it("400 UNABLE_TO_LOCK_ROW is retryable", async () => {
    const server = await start();
    server.faults.next(
      salesforceFault(400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
      1,
      upsertPath,
    );
    expect(await failure(adapter(server).deliver(request(1)))).toBeInstanceOf(RetryableDeliveryError);
  });

  it("a slow answer times out as retryable", async () => {
    const server = await start();
    server.faults.next({ kind: "delay", ms: 600 }, 1, upsertPath);
    const error = await failure(adapter(server, { timeout_ms: 150 }).deliver(request(1)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toHaveProperty("message", expect.stringContaining("timed out") as unknown);
  });

  it("a validation rule or missing required field is record-level permanent", async () => {
    const server = await start({
      objects: { Case: { externalIdFields: ["Handoff_Key__c"], requiredFields: ["Reason"] } },
    });
    const error = await failure(adapter(server).deliver(request(1)));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({
      scope: "record",
      status: 400,
      message: expect.stringContaining("REQUIRED_FIELD_MISSING on Reason") as unknown,
    });
  });

  it("300 (several records share the key) is record-level permanent and writes nothing", async () => {
    const server = await start();
    server.seedRecord("Case", { Handoff_Key__c: "conv-1" });
    server.seedRecord("Case", { Handoff_Key__c: "conv-1" });
    const error = await failure(adapter(server).deliver(request(1)));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toHaveProperty("status", 300);
    expect(server.writes.all()).toEqual([]);
  });

  it("an unknown external-id field or object parks the destination", async () => {
    const server = await start();
    for (const overrides of [{ external_id_field: "Nope__c" }, { object: "Casa" }]) {
      const error = await failure(adapter(server, overrides).deliver(request(1)));
      expect(error).toBeInstanceOf(DestinationError);
      expect(error).toMatchObject({
        status: 404,
        adminHint: expect.stringContaining("External ID") as unknown,
      });
    }
  });

  it("an unknown mapped field parks the destination", async () => {
    const server = await start({
      objects: { Case: { externalIdFields: ["Handoff_Key__c"], fields: ["Subject", "Handoff_Version__c"] } },
    });
    const error = await failure(
      adapter(server, {
        mapping: { Subject: { path: "reason" }, Handoff_State__c: { path: "state" } },
      }).deliver(request(1)),
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toHaveProperty(
      "message",
      expect.stringContaining("INVALID_FIELD on Handoff_State__c") as unknown,
    );
  });

  it("a spent daily API allowance parks the destination", async () => {
    const server = await start({ dailyApiLimit: 100 });
    server.setApiUsage(100);
    const error = await failure(adapter(server).deliver(request(1)));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toMatchObject({
      status: 403,
      message: expect.stringContaining("api-usage 100/100") as unknown,
      adminHint: expect.stringContaining("daily API") as unknown,
    });
  });

  it("refuses a private address unless allowed", async () => {
    const server = await start();
    const error = await failure(adapter(server, { allow_private_network: false }).deliver(request(1)));
    expect(error).toBeInstanceOf(DestinationError);
    expect(server.requests).toEqual([]);
  });

  it("a key longer than an External ID field holds is record-level permanent", async () => {
    const server = await start();
    const error = await failure(
      adapter(server).deliver({
        snapshot: snapshot(1, "handoff_initiated", "initiated", "k".repeat(256)),
        destination: "sfdc",
      }),
    );
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(server.requests).toEqual([]);
  });
});

describe("salesforce adapter: keys that are paths", () => {
  const keyed = (key: string): DeliveryRequest => ({
    snapshot: snapshot(1, "handoff_initiated", "initiated", key),
    destination: "sfdc",
  });

  it("refuses a key that is a dot segment or holds a slash as this record's fault, naming the field, sending nothing", async () => {
    const server = await start();
    const sfdc = adapter(server);
    for (const key of [".", "..", "acme/1", "../Case", "a\\b"]) {
      const error = await failure(sfdc.deliver(keyed(key)));
      expect(error, key).toBeInstanceOf(PermanentDeliveryError);
      expect(error).toHaveProperty("message", expect.stringContaining("Case.Handoff_Key__c") as unknown);
    }
    expect(() => sfdc.preview?.(keyed(".."))).toThrow(PermanentDeliveryError);
    expect(server.requests.filter((r) => r.path.includes("/sobjects/"))).toEqual([]);
  });

  it("delivers keys with dots, spaces and other URL-special characters inside a segment", async () => {
    const server = await start();
    const sfdc = adapter(server);
    for (const key of ["a.b", "...", "acme 1?x=1#y", "100%"]) await sfdc.deliver(keyed(key));
    expect(server.records().map((r) => r["Handoff_Key__c"])).toEqual(["a.b", "...", "acme 1?x=1#y", "100%"]);
  });

  it("a 404 or 405 on the record's URL while the object and field exist is record-level", async () => {
    const server = await start();
    const sfdc = adapter(server);
    for (const status of [404, 405]) {
      server.faults.next(
        {
          kind: "status",
          status,
          contentType: "application/json",
          body: JSON.stringify([
            { errorCode: status === 404 ? "NOT_FOUND" : "METHOD_NOT_ALLOWED", message: "x" },
          ]),
        },
        1,
        (r) => r.method === "PATCH",
      );
      const error = await failure(sfdc.deliver(request(1)));
      expect(error, String(status)).toBeInstanceOf(PermanentDeliveryError);
      expect(error).toHaveProperty("status", status);
    }
    // The describe answer is kept: one look-up for both failures.
    expect(server.requests.filter((r) => r.path.endsWith("/describe"))).toHaveLength(1);
  });
});

describe("salesforce adapter: ambiguous failures and deleted records", () => {
  it("a 503 after the write committed, then a retry: still one record", async () => {
    const server = await start();
    const sfdc = adapter(server);
    server.faults.next({ kind: "after_commit", status: 503 }, 1, (r) => r.path.includes("/sobjects/"));
    expect(await failure(sfdc.deliver(request(1)))).toBeInstanceOf(RetryableDeliveryError);
    const retried = await sfdc.deliver(request(1));
    expect(server.records()).toEqual([
      expect.objectContaining({ Id: retried.recordId, Handoff_Version__c: 1 }),
    ]);
    expect(server.writes.all().map((w) => w.operation)).toEqual(["create", "update"]);
  });

  it("a dropped connection after commit, then a retry: still one record", async () => {
    const server = await start();
    const sfdc = adapter(server);
    server.faults.next({ kind: "drop_after_commit" }, 1, (r) => r.path.includes("/sobjects/"));
    expect(await failure(sfdc.deliver(request(1)))).toBeInstanceOf(RetryableDeliveryError);
    await sfdc.deliver(request(1));
    expect(server.records()).toHaveLength(1);
  });

  it("on_missing_record: recreate creates the deleted record again", async () => {
    const server = await start();
    const sfdc = adapter(server);
    const first = await sfdc.deliver(request(1));
    server.deleteRecord("Case", first.recordId ?? "");
    const second = await sfdc.deliver(request(2, { version: 1, recordId: first.recordId ?? "" }));
    expect(second.status).toBe(201);
    expect(second.recordId).not.toBe(first.recordId);
    expect(server.records()).toEqual([
      expect.objectContaining({ Id: second.recordId, Handoff_Key__c: "conv-1", Handoff_Version__c: 2 }),
    ]);
  });

  it("on_missing_record: park throws a DestinationError naming the record", async () => {
    const server = await start();
    const sfdc = adapter(server, { on_missing_record: "park" });
    const first = await sfdc.deliver(request(1));
    server.deleteRecord("Case", first.recordId ?? "");
    const error = await failure(sfdc.deliver(request(2, { version: 1, recordId: first.recordId ?? "" })));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toMatchObject({
      status: 404,
      adminHint: expect.stringContaining(first.recordId ?? "?") as unknown,
    });
    expect(server.records()).toEqual([]);
  });
});

describe("salesforce adapter: task in the same composite call", () => {
  const task = { object: "Task", external_id_field: "Handoff_Key__c", link_field: "WhatId" };

  it("upserts the Case and a linked Task in one call; later states update both", async () => {
    const server = await start();
    const sfdc = adapter(server, { task });
    const first = await sfdc.deliver(request(1));
    expect(first.status).toBe(201);
    const second = await sfdc.deliver(
      request(2, { version: 1, recordId: first.recordId ?? "" }, "handoff_failed", "failed"),
    );
    expect(second).toEqual({ status: 204, recordId: first.recordId });
    expect(server.records()).toEqual([
      expect.objectContaining({ Id: first.recordId, Status: "Escalated", Handoff_Version__c: 2 }),
    ]);
    expect(server.records("Task")).toEqual([
      expect.objectContaining({
        WhatId: first.recordId,
        Handoff_Key__c: "conv-1",
        Handoff_Version__c: 2,
        Subject: "Follow up AI handoff: refund over limit",
      }),
    ]);
    expect(server.requests.filter((r) => r.path !== "/services/oauth2/token").map((r) => r.path)).toEqual([
      "/services/data/v62.0/composite",
      "/services/data/v62.0/composite",
    ]);
    expect(server.apiUsage().used).toBe(2);
  });

  it("a refused Task rolls the Case back and is classified by the Task's error", async () => {
    const server = await start({
      objects: {
        Case: { externalIdFields: ["Handoff_Key__c"] },
        Task: { externalIdFields: ["Handoff_Key__c"], requiredFields: ["ActivityDate"] },
      },
    });
    const error = await failure(adapter(server, { task }).deliver(request(1)));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toHaveProperty(
      "responseExcerpt",
      expect.stringContaining("REQUIRED_FIELD_MISSING") as unknown,
    );
    expect(server.records()).toEqual([]);
    expect(server.writes.all()).toEqual([]);
  });

  it("a deleted Case is recreated with its Task in a second composite call", async () => {
    const server = await start();
    const sfdc = adapter(server, { task });
    const first = await sfdc.deliver(request(1));
    server.deleteRecord("Case", first.recordId ?? "");
    const second = await sfdc.deliver(request(2, { version: 1, recordId: first.recordId ?? "" }));
    expect(second.recordId).not.toBe(first.recordId);
    expect(server.records("Task")).toEqual([expect.objectContaining({ WhatId: second.recordId })]);
  });

  it("task.states limits the task to those states", async () => {
    const server = await start();
    const sfdc = adapter(server, { task: { ...task, states: ["handoff_failed"] } });
    const first = await sfdc.deliver(request(1));
    expect(server.records("Task")).toEqual([]);
    await sfdc.deliver(
      request(2, { version: 1, recordId: first.recordId ?? "" }, "handoff_failed", "failed"),
    );
    expect(server.records("Task")).toEqual([expect.objectContaining({ WhatId: first.recordId })]);
  });

  it("a 503 after the composite committed, then a retry: one Case and one Task", async () => {
    const server = await start();
    const sfdc = adapter(server, { task });
    server.faults.next({ kind: "after_commit", status: 503 }, 1, (r) => r.path.endsWith("/composite"));
    expect(await failure(sfdc.deliver(request(1)))).toBeInstanceOf(RetryableDeliveryError);
    await sfdc.deliver(request(1));
    expect(server.records()).toHaveLength(1);
    expect(server.records("Task")).toHaveLength(1);
  });
});
