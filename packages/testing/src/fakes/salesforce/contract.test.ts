import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { salesforceFault } from "./errors.js";
import { startFakeSalesforce, type FakeSalesforce, type FakeSalesforceOptions } from "./fake-salesforce.js";

// The fake against the examples in shared/research/crm-apis.md ("Salesforce REST"), with plain fetch
// so it cannot drift into agreeing with the adapter.

const CLIENT_ID = "3MVG9-consumer-key";
const CLIENT_SECRET = "consumer-secret";
const USERNAME = "integration@acme.example";
const V = "/services/data/v62.0";

let keys: { publicKey: KeyObject; privateKey: KeyObject };
let otherKey: KeyObject;
beforeAll(() => {
  keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
});

const fakes: FakeSalesforce[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function start(options: FakeSalesforceOptions = {}): Promise<FakeSalesforce> {
  const fake = await startFakeSalesforce({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    jwt: { publicKey: keys.publicKey, username: USERNAME },
    ...options,
  });
  fakes.push(fake);
  return fake;
}

function form(fields: Record<string, string>): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  };
}

function jwt(claims: Record<string, unknown>, key: KeyObject = keys.privateKey): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${part({ alg: "RS256" })}.${part(claims)}`;
  return `${unsigned}.${sign("RSA-SHA256", Buffer.from(unsigned), key).toString("base64url")}`;
}

const validClaims = () => ({
  iss: CLIENT_ID,
  sub: USERNAME,
  aud: "https://login.salesforce.com",
  exp: Math.floor(Date.now() / 1000) + 120,
});

async function token(fake: FakeSalesforce): Promise<string> {
  const response = await fetch(
    `${fake.url}/services/oauth2/token`,
    form({ grant_type: "client_credentials", client_id: CLIENT_ID, client_secret: CLIENT_SECRET }),
  );
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

async function api(
  fake: FakeSalesforce,
  method: string,
  path: string,
  body?: unknown,
  bearer?: string,
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const response = await fetch(`${fake.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer ?? (await token(fake))}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === "" ? undefined : (JSON.parse(text) as unknown),
  };
}

const errorEntry = (errorCode: string) => ({
  errorCode,
  message: expect.any(String) as unknown,
  fields: expect.any(Array) as unknown,
});

describe("OAuth token endpoint", () => {
  it("client credentials: access_token, instance_url, token_type, issued_at, scope, id, signature; no refresh_token or expires_in", async () => {
    const fake = await start();
    const response = await fetch(
      `${fake.url}/services/oauth2/token`,
      form({ grant_type: "client_credentials", client_id: CLIENT_ID, client_secret: CLIENT_SECRET }),
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ instance_url: fake.url, token_type: "Bearer" });
    for (const field of ["access_token", "issued_at", "scope", "id", "signature"])
      expect(typeof body[field]).toBe("string");
    expect(body).not.toHaveProperty("refresh_token");
    expect(body).not.toHaveProperty("expires_in");
  });

  it.each([
    [{ client_id: CLIENT_ID, client_secret: "wrong" }, "invalid_client"],
    [{ client_id: "unknown", client_secret: CLIENT_SECRET }, "invalid_client_id"],
  ])("client credentials refused with 400 {error, error_description}", async (credentials, error) => {
    const fake = await start();
    const response = await fetch(
      `${fake.url}/services/oauth2/token`,
      form({ grant_type: "client_credentials", ...credentials }),
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error, error_description: expect.any(String) as unknown });
  });

  it("JWT bearer: an RS256 assertion with iss=client_id, sub=username, aud=login host gets a token", async () => {
    const fake = await start();
    const response = await fetch(
      `${fake.url}/services/oauth2/token`,
      form({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: jwt(validClaims()) }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      access_token: expect.any(String) as unknown,
      instance_url: fake.url,
    });
  });

  it.each([
    ["signed with another key", () => jwt(validClaims(), otherKey), "invalid_grant"],
    [
      "for another audience",
      () => jwt({ ...validClaims(), aud: "https://test.salesforce.com" }),
      "invalid_grant",
    ],
    ["expired", () => jwt({ ...validClaims(), exp: Math.floor(Date.now() / 1000) - 10 }), "invalid_grant"],
    ["for an unapproved user", () => jwt({ ...validClaims(), sub: "someone@else" }), "invalid_grant"],
    ["from another client", () => jwt({ ...validClaims(), iss: "other" }), "invalid_client_id"],
    ["not a JWT", () => "garbage", "invalid_grant"],
  ])("JWT bearer refuses an assertion %s", async (_, assertion, error) => {
    const fake = await start();
    const response = await fetch(
      `${fake.url}/services/oauth2/token`,
      form({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: assertion() }),
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error, error_description: expect.any(String) as unknown });
  });

  it("an unknown grant type is unsupported_grant_type", async () => {
    const fake = await start();
    const response = await fetch(`${fake.url}/services/oauth2/token`, form({ grant_type: "password" }));
    expect(await response.json()).toMatchObject({ error: "unsupported_grant_type" });
  });
});

describe("sessions", () => {
  it("no or an unknown token: 401 [{errorCode: INVALID_SESSION_ID}]", async () => {
    const fake = await start();
    const response = await api(fake, "GET", `${V}/sobjects/Case/Handoff_Key__c/k`, undefined, "bogus");
    expect(response.status).toBe(401);
    expect(response.body).toEqual([
      { message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID", fields: [] },
    ]);
  });

  it("a session expires after N requests, and after expireSessions()", async () => {
    const fake = await start({ sessionMaxRequests: 2 });
    const bearer = await token(fake);
    const path = `${V}/sobjects/Case/Handoff_Key__c/k`;
    expect((await api(fake, "PATCH", path, { Subject: "a" }, bearer)).status).toBe(201);
    expect((await api(fake, "PATCH", path, { Subject: "b" }, bearer)).status).toBe(200);
    expect((await api(fake, "PATCH", path, { Subject: "c" }, bearer)).status).toBe(401);
    const fresh = await token(fake);
    fake.expireSessions();
    expect((await api(fake, "PATCH", path, { Subject: "d" }, fresh)).status).toBe(401);
    expect(fake.tokensIssued()).toBe(2);
  });
});

describe("upsert by external id: PATCH /sobjects/Case/Handoff_Key__c/{key}", () => {
  const path = `${V}/sobjects/Case/Handoff_Key__c/conv-1`;

  it("inserts with 201 {id, success, errors, created:true}, then updates with 200 created:false", async () => {
    const fake = await start();
    const first = await api(fake, "PATCH", path, { Subject: "Refund", Handoff_Version__c: 1 });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.stringMatching(/^500\w{15}$/) as unknown,
      success: true,
      errors: [],
      created: true,
    });
    const second = await api(fake, "PATCH", path, { Subject: "Refund (done)", Handoff_Version__c: 2 });
    expect(second.status).toBe(200);
    expect(second.body).toEqual({
      id: (first.body as { id: string }).id,
      success: true,
      errors: [],
      created: false,
    });
    expect(fake.records()).toEqual([
      {
        Id: (first.body as { id: string }).id,
        Handoff_Key__c: "conv-1",
        Subject: "Refund (done)",
        Handoff_Version__c: 2,
      },
    ]);
    expect(fake.writes.all().map((write) => [write.operation, write.externalId, write.version])).toEqual([
      ["create", "conv-1", 1],
      ["update", "conv-1", 2],
    ]);
  });

  it("answers every API call with Sforce-Limit-Info: api-usage=used/max", async () => {
    const fake = await start({ dailyApiLimit: 5000 });
    const response = await api(fake, "PATCH", path, { Subject: "x" });
    expect(response.headers.get("sforce-limit-info")).toMatch(/^api-usage=1\/5000$/);
  });

  it("API v45.0 and older answer an update with 204 and no body", async () => {
    const fake = await start();
    const old = `/services/data/v45.0/sobjects/Case/Handoff_Key__c/conv-1`;
    expect((await api(fake, "PATCH", old, { Subject: "a" })).body).toEqual({
      id: expect.any(String) as unknown,
      success: true,
      errors: [],
    });
    const update = await api(fake, "PATCH", old, { Subject: "b" });
    expect(update.status).toBe(204);
    expect(update.body).toBeUndefined();
  });

  it.each([["Id"], ["Handoff_Key__c"]])(
    "refuses a body containing %s with 400 and an error array",
    async (field) => {
      const fake = await start();
      const response = await api(fake, "PATCH", path, { [field]: "x", Subject: "a" });
      expect(response.status).toBe(400);
      expect(response.body).toEqual([{ ...errorEntry("INVALID_FIELD"), fields: [field] }]);
    },
  );

  it("a field that is not an External ID, or an unknown object: 404 NOT_FOUND", async () => {
    const fake = await start();
    expect(await api(fake, "PATCH", `${V}/sobjects/Case/Subject/conv-1`, { Status: "New" })).toMatchObject({
      status: 404,
      body: [errorEntry("NOT_FOUND")],
    });
    expect(
      await api(fake, "PATCH", `${V}/sobjects/Casa/Handoff_Key__c/conv-1`, { Status: "New" }),
    ).toMatchObject({ status: 404, body: [errorEntry("NOT_FOUND")] });
  });

  it("an unknown field in the body: 400 INVALID_FIELD naming it", async () => {
    const fake = await start({
      objects: { Case: { externalIdFields: ["Handoff_Key__c"], fields: ["Subject"] } },
    });
    expect(await api(fake, "PATCH", path, { Subject: "a", Nope__c: 1 })).toMatchObject({
      status: 400,
      body: [{ errorCode: "INVALID_FIELD", fields: ["Nope__c"] }],
    });
  });

  it("several records with the external id: 300 with their URLs, nothing written", async () => {
    const fake = await start();
    const a = fake.seedRecord("Case", { Handoff_Key__c: "conv-1" });
    const b = fake.seedRecord("Case", { Handoff_Key__c: "conv-1" });
    const response = await api(fake, "PATCH", path, { Subject: "x" });
    expect(response.status).toBe(300);
    expect(response.body).toEqual([`${V}/sobjects/Case/${a}`, `${V}/sobjects/Case/${b}`]);
    expect(fake.writes.all()).toEqual([]);
    expect((await api(fake, "GET", path)).status).toBe(300);
  });

  it("?updateOnly=true does not create: 404", async () => {
    const fake = await start();
    expect((await api(fake, "PATCH", `${path}?updateOnly=true`, { Subject: "x" })).status).toBe(404);
    expect(fake.records()).toEqual([]);
  });

  it("required fields and validation rules refuse with 400 and the error array", async () => {
    const fake = await start({
      objects: { Case: { externalIdFields: ["Handoff_Key__c"], requiredFields: ["Subject"] } },
      validate: (_object, fields) =>
        fields["Status"] === "Bogus"
          ? { errorCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", message: "Status is not allowed", fields: [] }
          : undefined,
    });
    expect(await api(fake, "PATCH", path, { Status: "New" })).toMatchObject({
      status: 400,
      body: [{ errorCode: "REQUIRED_FIELD_MISSING", fields: ["Subject"] }],
    });
    expect(await api(fake, "PATCH", path, { Subject: "a", Status: "Bogus" })).toMatchObject({
      status: 400,
      body: [errorEntry("FIELD_CUSTOM_VALIDATION_EXCEPTION")],
    });
  });
});

describe("update and delete by id", () => {
  it("PATCH /sobjects/Case/{id} answers 204; deleted 404 ENTITY_IS_DELETED; unknown 404 NOT_FOUND", async () => {
    const fake = await start();
    const id = fake.seedRecord("Case", { Handoff_Key__c: "conv-1", Subject: "a" });
    const update = await api(fake, "PATCH", `${V}/sobjects/Case/${id}`, { Subject: "b" });
    expect(update).toMatchObject({ status: 204, body: undefined });
    expect((await api(fake, "GET", `${V}/sobjects/Case/${id}`)).body).toMatchObject({
      attributes: { type: "Case" },
      Id: id,
      Subject: "b",
    });
    fake.deleteRecord("Case", id);
    expect(await api(fake, "PATCH", `${V}/sobjects/Case/${id}`, { Subject: "c" })).toMatchObject({
      status: 404,
      body: [errorEntry("ENTITY_IS_DELETED")],
    });
    expect(await api(fake, "PATCH", `${V}/sobjects/Case/500Hs0000009999AAA`, { Subject: "c" })).toMatchObject(
      { status: 404, body: [errorEntry("NOT_FOUND")] },
    );
    expect(fake.records()).toEqual([]);
  });
});

describe("composite: POST /composite {allOrNone, compositeRequest}", () => {
  const request = (taskBody: Record<string, unknown>) => ({
    allOrNone: true,
    compositeRequest: [
      {
        method: "PATCH",
        url: `${V}/sobjects/Case/Handoff_Key__c/conv-1`,
        referenceId: "refCase",
        body: { Subject: "Refund" },
      },
      {
        method: "PATCH",
        url: `${V}/sobjects/Task/Handoff_Key__c/conv-1`,
        referenceId: "refTask",
        body: { WhatId: "@{refCase.id}", ...taskBody },
      },
    ],
  });

  it("upserts the Case and a Task referencing @{refCase.id} in one API call", async () => {
    const fake = await start();
    const bearer = await token(fake);
    const response = await api(fake, "POST", `${V}/composite`, request({ Subject: "Call back" }), bearer);
    expect(response.status).toBe(200);
    const { compositeResponse } = response.body as {
      compositeResponse: {
        body: { id: string };
        httpStatusCode: number;
        referenceId: string;
        httpHeaders: Record<string, string>;
      }[];
    };
    expect(compositeResponse.map((sub) => [sub.referenceId, sub.httpStatusCode])).toEqual([
      ["refCase", 201],
      ["refTask", 201],
    ]);
    expect(compositeResponse[0]?.httpHeaders).toHaveProperty("Location");
    const caseId = compositeResponse[0]?.body.id;
    expect(fake.records("Task")).toEqual([expect.objectContaining({ WhatId: caseId, Subject: "Call back" })]);
    expect(response.headers.get("sforce-limit-info")).toBe("api-usage=1/15000");
  });

  it("allOrNone: one failing subrequest rolls back all; the others say PROCESSING_HALTED", async () => {
    const fake = await start();
    const response = await api(fake, "POST", `${V}/composite`, {
      ...request({}),
      compositeRequest: [
        request({}).compositeRequest[0],
        { ...request({}).compositeRequest[1], url: `${V}/sobjects/Task/Nope__c/conv-1` },
      ],
    });
    expect(response.status).toBe(200);
    const { compositeResponse } = response.body as {
      compositeResponse: { body: unknown; httpStatusCode: number }[];
    };
    expect(compositeResponse.map((sub) => [sub.httpStatusCode, sub.body])).toEqual([
      [400, [errorEntry("PROCESSING_HALTED")]],
      [404, [errorEntry("NOT_FOUND")]],
    ]);
    expect(fake.records()).toEqual([]);
    expect(fake.writes.all()).toEqual([]);
  });
});

describe("sObject Collections upsert: PATCH /composite/sobjects/Case/Handoff_Key__c", () => {
  const path = `${V}/composite/sobjects/Case/Handoff_Key__c`;
  const record = (key: string, fields: Record<string, unknown> = {}) => ({
    attributes: { type: "Case" },
    Handoff_Key__c: key,
    Subject: key,
    ...fields,
  });

  it("upserts many records in one API request, one save result per record in order", async () => {
    const fake = await start();
    const bearer = await token(fake);
    await api(fake, "PATCH", `${V}/sobjects/Case/Handoff_Key__c/b`, { Subject: "old" }, bearer);
    const response = await api(
      fake,
      "PATCH",
      path,
      { allOrNone: false, records: [record("a"), record("b")] },
      bearer,
    );
    expect(response).toMatchObject({
      status: 200,
      body: [
        { id: expect.any(String) as unknown, success: true, errors: [], created: true },
        { id: expect.any(String) as unknown, success: true, errors: [], created: false },
      ],
    });
    expect(response.headers.get("sforce-limit-info")).toBe("api-usage=2/15000");
    expect(fake.records().map((r) => [r["Handoff_Key__c"], r["Subject"]])).toEqual([
      ["b", "b"],
      ["a", "a"],
    ]);
  });

  it("allOrNone false: a record that fails does so alone, with its error in its result", async () => {
    const fake = await start({
      validate: (_object, fields) =>
        fields["Status"] === "Bogus"
          ? { errorCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", message: "Status is not allowed", fields: [] }
          : undefined,
    });
    const response = await api(fake, "PATCH", path, {
      allOrNone: false,
      records: [record("a"), record("b", { Status: "Bogus" }), record("c")],
    });
    expect(response).toMatchObject({
      status: 200,
      body: [
        { success: true },
        { success: false, errors: [{ statusCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", fields: [] }] },
        { success: true },
      ],
    });
    expect(fake.records().map((r) => r["Handoff_Key__c"])).toEqual(["a", "c"]);
  });

  it("allOrNone true: one failure rolls every record back", async () => {
    const fake = await start({
      objects: { Case: { externalIdFields: ["Handoff_Key__c"], fields: ["Subject"] } },
    });
    const response = await api(fake, "PATCH", path, {
      allOrNone: true,
      records: [record("a"), record("b", { Nope__c: 1 })],
    });
    expect(response).toMatchObject({
      status: 200,
      body: [
        { success: false, errors: [{ statusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK" }] },
        { success: false, errors: [{ statusCode: "INVALID_FIELD" }] },
      ],
    });
    expect(fake.records()).toEqual([]);
  });

  it("more than 200 records: 400 EXCEEDED_ID_LIMIT, nothing written", async () => {
    const fake = await start();
    const records = Array.from({ length: 201 }, (_, i) => record(`k-${i}`));
    expect(await api(fake, "PATCH", path, { allOrNone: false, records })).toMatchObject({
      status: 400,
      body: [errorEntry("EXCEEDED_ID_LIMIT")],
    });
    expect(fake.records()).toEqual([]);
  });

  it("a spent daily allowance refuses the whole collection with 403 REQUEST_LIMIT_EXCEEDED", async () => {
    const fake = await start({ dailyApiLimit: 5 });
    const bearer = await token(fake);
    fake.setApiUsage(5);
    const response = await api(fake, "PATCH", path, { allOrNone: false, records: [record("a")] }, bearer);
    expect(response).toMatchObject({ status: 403, body: [errorEntry("REQUEST_LIMIT_EXCEEDED")] });
    expect(response.headers.get("sforce-limit-info")).toBe("api-usage=5/5");
  });

  it("delay_after_commit: the records are written though the answer comes late", async () => {
    const fake = await start();
    const bearer = await token(fake);
    fake.faults.next({ kind: "delay_after_commit", ms: 300 });
    const aborted = await fetch(`${fake.url}${path}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ allOrNone: false, records: [record("a"), record("b")] }),
      signal: AbortSignal.timeout(100),
    }).catch((error: unknown) => error);
    expect(aborted).toBeInstanceOf(Error);
    expect(fake.records()).toHaveLength(2);
  });
});

describe("limits and faults", () => {
  it("past the daily allowance: 403 [{errorCode: REQUEST_LIMIT_EXCEEDED}]", async () => {
    const fake = await start({ dailyApiLimit: 10 });
    fake.setApiUsage(10);
    const response = await api(fake, "PATCH", `${V}/sobjects/Case/Handoff_Key__c/k`, { Subject: "x" });
    expect(response).toMatchObject({ status: 403, body: [errorEntry("REQUEST_LIMIT_EXCEEDED")] });
    expect(response.headers.get("sforce-limit-info")).toBe("api-usage=10/10");
  });

  it("salesforceFault answers with Salesforce's error array, applying nothing", async () => {
    const fake = await start();
    const bearer = await token(fake);
    fake.faults.next(
      salesforceFault(400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
    );
    const response = await api(
      fake,
      "PATCH",
      `${V}/sobjects/Case/Handoff_Key__c/k`,
      { Subject: "x" },
      bearer,
    );
    expect(response).toMatchObject({ status: 400, body: [errorEntry("UNABLE_TO_LOCK_ROW")] });
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(fake.records()).toEqual([]);
  });

  it("after_commit: the write is applied though the client sees 503", async () => {
    const fake = await start();
    const bearer = await token(fake);
    fake.faults.next({ kind: "after_commit", status: 503 });
    expect(
      (
        await api(fake, "PATCH", `${V}/sobjects/Case/Handoff_Key__c/k`, { Subject: "x" }, bearer).catch(
          () => ({ status: 503 }),
        )
      ).status,
    ).toBe(503);
    expect(fake.records()).toHaveLength(1);
  });
});
