import { afterEach, describe, expect, it } from "vitest";
import { startFakeServiceNow, type FakeServiceNow, type FakeServiceNowOptions } from "./fake-servicenow.js";

// The fake against the Table API as documented (research notes, "ServiceNow Table API"), spoken
// with plain fetch so it can never drift into agreeing with the adapter.

const BASIC = `Basic ${Buffer.from("integration.user:integration-password").toString("base64")}`;

const fakes: FakeServiceNow[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function start(options: FakeServiceNowOptions = {}): Promise<FakeServiceNow> {
  const fake = await startFakeServiceNow(options);
  fakes.push(fake);
  return fake;
}

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function call(
  fake: FakeServiceNow,
  method: string,
  path: string,
  body?: unknown,
  authorization: string | null = BASIC,
): Promise<Answer> {
  const response = await fetch(`${fake.url}${path}`, {
    method,
    headers: {
      accept: "application/json",
      ...(authorization === null ? {} : { authorization }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === "" ? undefined : (JSON.parse(text) as unknown);
  } catch {
    // Left as text: some faults answer in text/plain.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

async function token(fake: FakeServiceNow, form: Record<string, string>): Promise<Answer> {
  const response = await fetch(`${fake.url}/oauth_token.do`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

const CLIENT = { client_id: "fake-client-id", client_secret: "fake-client-secret" };

function result(answer: Answer): Record<string, string> {
  return (answer.body as { result: Record<string, string> }).result;
}

function results(answer: Answer): Record<string, string>[] {
  return (answer.body as { result: Record<string, string>[] }).result;
}

describe("fake ServiceNow Table API", () => {
  it("creates with POST: 201, result with sys_id and number, Location, values as text", async () => {
    const fake = await start();
    const created = await call(fake, "POST", "/api/now/table/incident", {
      short_description: "Refund over limit",
      correlation_id: "conv-1",
      u_handoff_version: 3,
    });
    expect(created.status).toBe(201);
    const record = result(created);
    expect(record.sys_id).toMatch(/^[0-9a-f]{32}$/);
    expect(record.number).toBe("INC0010001");
    expect(record.u_handoff_version).toBe("3");
    expect(record.short_description).toBe("Refund over limit");
    expect(created.headers.get("location")).toBe(`${fake.url}/api/now/table/incident/${record.sys_id}`);
    expect(created.headers.get("content-type")).toMatch(/application\/json/);

    const second = await call(fake, "POST", "/api/now/table/incident", { short_description: "x" });
    expect(result(second).number).toBe("INC0010002");
  });

  it("updates with PATCH: 200 and the record", async () => {
    const fake = await start();
    const { sys_id } = result(
      await call(fake, "POST", "/api/now/table/incident", { short_description: "a" }),
    );
    const updated = await call(fake, "PATCH", `/api/now/table/incident/${sys_id}`, {
      short_description: "b",
    });
    expect(updated.status).toBe(200);
    expect(result(updated)).toMatchObject({ sys_id, short_description: "b", sys_mod_count: "1" });
    expect(fake.records()).toHaveLength(1);
  });

  it("has no upsert: correlation_id is not unique, a second POST creates a second record", async () => {
    const fake = await start();
    const first = result(await call(fake, "POST", "/api/now/table/incident", { correlation_id: "conv-1" }));
    const second = result(await call(fake, "POST", "/api/now/table/incident", { correlation_id: "conv-1" }));
    expect(second.sys_id).not.toBe(first.sys_id);
    expect(fake.records().filter((record) => record.correlation_id === "conv-1")).toHaveLength(2);

    const query = encodeURIComponent("correlation_id=conv-1^ORDERBYsys_created_on");
    const found = await call(fake, "GET", `/api/now/table/incident?sysparm_query=${query}&sysparm_limit=1`);
    expect(found.status).toBe(200);
    expect(results(found)).toHaveLength(1);
    expect(results(found)[0]?.sys_id).toBe(first.sys_id);
    expect(found.headers.get("x-total-count")).toBe("2");
  });

  it("queries by correlation_id, with sysparm_fields and an empty list when nothing matches", async () => {
    const fake = await start();
    await call(fake, "POST", "/api/now/table/incident", { correlation_id: "conv-1", u_handoff_version: 1 });
    const found = await call(
      fake,
      "GET",
      "/api/now/table/incident?sysparm_query=correlation_id%3Dconv-1&sysparm_limit=1&sysparm_fields=sys_id,correlation_id,u_handoff_version",
    );
    expect(Object.keys(results(found)[0] ?? {}).sort()).toEqual([
      "correlation_id",
      "sys_id",
      "u_handoff_version",
    ]);
    const none = await call(fake, "GET", "/api/now/table/incident?sysparm_query=correlation_id%3Dconv-2");
    expect(none).toMatchObject({ status: 200, body: { result: [] } });
  });

  it("behaves like an instance on sloppy input: unknown fields dropped, unknown query terms ignored, = ignores case", async () => {
    const fake = await start();
    const created = await call(fake, "POST", "/api/now/table/incident", {
      correlation_id: "Conv-1",
      u_no_such_field: "x",
    });
    expect(result(created)).not.toHaveProperty("u_no_such_field");
    await call(fake, "POST", "/api/now/table/incident", { correlation_id: "other" });
    const ignored = await call(fake, "GET", "/api/now/table/incident?sysparm_query=u_no_such_field%3Dx");
    expect(results(ignored)).toHaveLength(2);
    const caseless = await call(fake, "GET", "/api/now/table/incident?sysparm_query=correlation_id%3Dconv-1");
    expect(results(caseless).map((record) => record.correlation_id)).toEqual(["Conv-1"]);
  });

  it("keeps work notes in the journal, not in the field", async () => {
    const fake = await start();
    const record = result(await call(fake, "POST", "/api/now/table/incident", { work_notes: "first" }));
    await call(fake, "PATCH", `/api/now/table/incident/${record.sys_id}`, { work_notes: "second" });
    expect(record.work_notes).toBe("");
    expect(fake.journal(record.sys_id ?? "").map((entry) => entry.value)).toEqual(["first", "second"]);
  });

  it("serves any configured table, e.g. interaction", async () => {
    const fake = await start();
    const created = await call(fake, "POST", "/api/now/table/interaction", { correlation_id: "conv-1" });
    expect(created.status).toBe(201);
    expect(result(created).number).toBe("IMS0010001");
    expect(fake.records("interaction")).toHaveLength(1);
  });

  it("logs every applied write with the correlation id and handoff version", async () => {
    const fake = await start();
    const { sys_id } = result(
      await call(fake, "POST", "/api/now/table/incident", { correlation_id: "conv-1", u_handoff_version: 1 }),
    );
    await call(fake, "PATCH", `/api/now/table/incident/${sys_id}`, { u_handoff_version: 2 });
    expect(
      fake.writes.all().map(({ operation, recordId, externalId, version }) => ({
        operation,
        recordId,
        externalId,
        version,
      })),
    ).toEqual([
      { operation: "create", recordId: sys_id, externalId: "conv-1", version: 1 },
      { operation: "update", recordId: sys_id, externalId: "conv-1", version: 2 },
    ]);
  });
});

describe("fake ServiceNow errors", () => {
  it("answers a missing record with 404 and the failure body", async () => {
    const fake = await start();
    const answer = await call(fake, "PATCH", "/api/now/table/incident/0123456789abcdef0123456789abcdef", {
      a: 1,
    });
    expect(answer).toMatchObject({
      status: 404,
      body: {
        error: {
          message: "No Record found",
          detail: "Record doesn't exist or ACL restricts the record retrieval",
        },
        status: "failure",
      },
    });
  });

  it("answers an unknown table with 400 Invalid table", async () => {
    const fake = await start();
    const answer = await call(fake, "GET", "/api/now/table/u_nope?sysparm_limit=1");
    expect(answer).toMatchObject({
      status: 400,
      body: { error: { message: "Invalid table u_nope", detail: null }, status: "failure" },
    });
  });

  it("answers missing or wrong credentials with 401", async () => {
    const fake = await start();
    for (const authorization of [
      null,
      `Basic ${Buffer.from("integration.user:wrong").toString("base64")}`,
      "Bearer nope",
    ]) {
      const answer = await call(fake, "GET", "/api/now/table/incident", undefined, authorization);
      expect(answer).toMatchObject({
        status: 401,
        body: {
          error: { message: "User Not Authenticated", detail: "Required to provide Auth information" },
          status: "failure",
        },
      });
    }
  });

  it("refuses writes the ACLs forbid and records a data policy blocks, with 403", async () => {
    const readOnly = await start({ readOnly: true });
    expect(await call(readOnly, "POST", "/api/now/table/incident", { a: 1 })).toMatchObject({
      status: 403,
      body: { error: { message: "User Not Authorized" }, status: "failure" },
    });
    const policed = await start({ mandatoryFields: ["short_description"] });
    const refused = await call(policed, "POST", "/api/now/table/incident", { correlation_id: "x" });
    expect(refused).toMatchObject({
      status: 403,
      body: { error: { message: "Operation Failed" }, status: "failure" },
    });
    expect(JSON.stringify(refused.body)).toContain("Data Policy Exception");
    expect(policed.records()).toHaveLength(0);
  });

  it("sends X-RateLimit headers and 429 with Retry-After past the limit", async () => {
    let now = 1_700_000_000_000;
    const fake = await start({
      rateLimit: { limit: 2, windowSec: 60, rule: "integration" },
      nowMs: () => now,
    });
    const first = await call(fake, "GET", "/api/now/table/incident");
    expect(first.headers.get("x-ratelimit-limit")).toBe("2");
    expect(first.headers.get("x-ratelimit-rule")).toBe("integration");
    expect(Number(first.headers.get("x-ratelimit-reset"))).toBeGreaterThan(now / 1_000);
    await call(fake, "GET", "/api/now/table/incident");
    const limited = await call(fake, "GET", "/api/now/table/incident");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({ error: { message: "Too Many Requests" }, status: "failure" });
    now += 60_000;
    expect((await call(fake, "GET", "/api/now/table/incident")).status).toBe(200);
  });

  it("plays a 5xx after committing the write", async () => {
    const fake = await start();
    fake.faults.next({ kind: "after_commit", status: 503 });
    const answer = await call(fake, "POST", "/api/now/table/incident", { correlation_id: "conv-1" });
    expect(answer.status).toBe(503);
    expect(fake.records()).toHaveLength(1);
  });

  it("plays slow answers", async () => {
    const fake = await start();
    fake.faults.next({ kind: "delay", ms: 150 });
    const started = Date.now();
    expect((await call(fake, "GET", "/api/now/table/incident")).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe("fake ServiceNow OAuth", () => {
  it("mints tokens for the password, refresh_token and client_credentials grants", async () => {
    const fake = await start({ tokenExpiresInSec: 1_799 });
    const grants = [
      { grant_type: "password", username: "integration.user", password: "integration-password" },
      { grant_type: "refresh_token", refresh_token: "fake-refresh-token" },
      { grant_type: "client_credentials" },
    ];
    for (const grant of grants) {
      const answer = await token(fake, { ...CLIENT, ...grant });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        access_token: expect.any(String) as unknown,
        token_type: "Bearer",
        expires_in: 1_799,
      });
      const { access_token } = answer.body as { access_token: string };
      expect(
        (await call(fake, "GET", "/api/now/table/incident", undefined, `Bearer ${access_token}`)).status,
      ).toBe(200);
    }
    expect(fake.tokensIssued()).toBe(3);
  });

  it("refuses bad client or user credentials with 401 {error, error_description}", async () => {
    const fake = await start();
    for (const form of [
      { ...CLIENT, client_secret: "wrong", grant_type: "client_credentials" },
      { ...CLIENT, grant_type: "password", username: "integration.user", password: "wrong" },
    ]) {
      expect(await token(fake, form)).toMatchObject({
        status: 401,
        body: { error: "server_error", error_description: "access_denied" },
      });
    }
  });

  it("expires tokens after their lifetime or a number of requests", async () => {
    let now = 1_700_000_000_000;
    const fake = await start({ tokenExpiresInSec: 60, tokenMaxRequests: 2, nowMs: () => now });
    const mint = async () =>
      `Bearer ${((await token(fake, { ...CLIENT, grant_type: "client_credentials" })).body as { access_token: string }).access_token}`;

    const counted = await mint();
    expect((await call(fake, "GET", "/api/now/table/incident", undefined, counted)).status).toBe(200);
    expect((await call(fake, "GET", "/api/now/table/incident", undefined, counted)).status).toBe(200);
    expect((await call(fake, "GET", "/api/now/table/incident", undefined, counted)).status).toBe(401);

    const timed = await mint();
    now += 60_000;
    expect((await call(fake, "GET", "/api/now/table/incident", undefined, timed)).status).toBe(401);
  });
});
