import { afterEach, describe, expect, it } from "vitest";
import { startFakeHubSpot, type FakeHubSpot, type FakeHubSpotOptions } from "./fake-hubspot.js";

// The fake's contract, from the HubSpot section of shared/research/crm-apis.md, checked with plain
// fetch: never through the adapter, so the fake cannot drift into agreeing with it.

const TOKEN = "pat-na1-fake";
let fake: FakeHubSpot | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function start(options: FakeHubSpotOptions = {}): Promise<FakeHubSpot> {
  fake = await startFakeHubSpot(options);
  return fake;
}

async function call(method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const response = await fetch(`${fake?.url ?? ""}${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const json = response.headers.get("content-type")?.includes("application/json") === true;
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: json ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}

const upsertBody = (id: string, properties: Record<string, unknown>, idProperty = "handoff_key") => ({
  inputs: [{ idProperty, id, properties }],
});

describe("fake HubSpot: batch upsert", () => {
  it("creates with new: true, then updates the same record with new: false", async () => {
    await start();
    const first = await call(
      "POST",
      "/crm/v3/objects/tickets/batch/upsert",
      upsertBody("k-1", { subject: "Help", handoff_version: 1 }),
    );
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      status: "COMPLETE",
      results: [{ new: true, properties: { handoff_key: "k-1", subject: "Help", handoff_version: "1" } }],
    });
    const id = (first.body?.["results"] as { id: string }[])[0]?.id;
    expect(id).toMatch(/^\d+$/);

    const second = await call(
      "POST",
      "/crm/v3/objects/tickets/batch/upsert",
      upsertBody("k-1", { handoff_version: 2 }),
    );
    expect(second.body).toMatchObject({
      results: [{ id, new: false, properties: { subject: "Help", handoff_version: "2" } }],
    });
    expect(fake?.records("tickets")).toHaveLength(1);
    expect(fake?.writes.all().map((w) => [w.operation, w.recordId, w.externalId, w.version])).toEqual([
      ["create", id, "k-1", 1],
      ["update", id, "k-1", 2],
    ]);
  });

  it("answers 207 with errors[] and numErrors when one input fails, applying the others", async () => {
    const hubspot = await start();
    hubspot.rejectInput("bad", { category: "VALIDATION_ERROR", message: "rejected for the test" });
    const response = await call("POST", "/crm/v3/objects/tickets/batch/upsert", {
      inputs: [
        { idProperty: "handoff_key", id: "good", properties: { subject: "ok" } },
        { idProperty: "handoff_key", id: "bad", properties: { subject: "no" } },
      ],
    });
    expect(response.status).toBe(207);
    expect(response.body).toMatchObject({
      status: "COMPLETE",
      numErrors: 1,
      results: [{ new: true, properties: { handoff_key: "good" } }],
      errors: [
        {
          status: "error",
          category: "VALIDATION_ERROR",
          message: "rejected for the test",
          context: { ids: ["bad"] },
        },
      ],
    });
    expect(hubspot.records("tickets").map((r) => r.properties["handoff_key"])).toEqual(["good"]);
  });

  it("reports an invalid property value per input, in a 207", async () => {
    await start();
    const response = await call(
      "POST",
      "/crm/v3/objects/tickets/batch/upsert",
      upsertBody("k-1", { handoff_version: "two" }),
    );
    expect(response.status).toBe(207);
    expect(response.body).toMatchObject({
      results: [],
      numErrors: 1,
      errors: [
        {
          category: "VALIDATION_ERROR",
          message: expect.stringContaining("Property values were not valid") as unknown,
        },
      ],
    });
  });

  it("refuses an unknown property for the whole request: 400 PROPERTY_DOESNT_EXIST", async () => {
    await start();
    const response = await call(
      "POST",
      "/crm/v3/objects/tickets/batch/upsert",
      upsertBody("k-1", { no_such_field: "x" }),
    );
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      status: "error",
      category: "VALIDATION_ERROR",
      message: expect.stringContaining("PROPERTY_DOESNT_EXIST") as unknown,
      correlationId: expect.any(String) as unknown,
      errors: [{ code: "PROPERTY_DOESNT_EXIST" }],
    });
    expect(fake?.writes.all()).toEqual([]);
  });

  it("refuses an idProperty without unique values: 400 VALIDATION_ERROR", async () => {
    await start();
    const response = await call(
      "POST",
      "/crm/v3/objects/tickets/batch/upsert",
      upsertBody("k-1", { subject: "x" }, "subject"),
    );
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ status: "error", category: "VALIDATION_ERROR" });
  });

  it("does not know object types the portal lacks", async () => {
    await start();
    const response = await call("POST", "/crm/v3/objects/widgets/batch/upsert", upsertBody("k-1", {}));
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      category: "VALIDATION_ERROR",
      message: "Unable to infer object type from: widgets",
    });
  });

  it("recreates a record that was deleted, with a new id", async () => {
    const hubspot = await start();
    const first = await call(
      "POST",
      "/crm/v3/objects/tickets/batch/upsert",
      upsertBody("k-1", { subject: "a" }),
    );
    const id = (first.body?.["results"] as { id: string }[])[0]?.id ?? "";
    expect((await call("DELETE", `/crm/v3/objects/tickets/${id}`)).status).toBe(204);
    expect(hubspot.records("tickets")).toHaveLength(0);
    const again = await call(
      "POST",
      "/crm/v3/objects/tickets/batch/upsert",
      upsertBody("k-1", { subject: "b" }),
    );
    expect(again.body).toMatchObject({ results: [{ new: true }] });
    expect((again.body?.["results"] as { id: string }[])[0]?.id).not.toBe(id);
  });
});

describe("fake HubSpot: single objects and associations", () => {
  it("creates a ticket with an association (201) and refuses a duplicate unique value", async () => {
    const hubspot = await start({ contacts: ["501"] });
    const body = {
      properties: {
        subject: "Help",
        content: "text",
        hs_pipeline: "0",
        hs_pipeline_stage: "1",
        handoff_key: "k-9",
      },
      associations: [
        { to: { id: "501" }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: 16 }] },
      ],
    };
    const created = await call("POST", "/crm/v3/objects/tickets", body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.any(String) as unknown,
      archived: false,
      properties: { subject: "Help" },
    });
    expect(hubspot.associations()).toMatchObject([
      { fromObject: "tickets", toObject: "contacts", toId: "501", typeId: 16 },
    ]);
    expect((await call("POST", "/crm/v3/objects/tickets", body)).status).toBe(409);
  });

  it("reads by id or by idProperty, updates with PATCH, and answers 404 OBJECT_NOT_FOUND", async () => {
    await start();
    const created = await call("POST", "/crm/v3/objects/tickets", {
      properties: { subject: "a", handoff_key: "k-2" },
    });
    const id = String(created.body?.["id"]);
    expect((await call("GET", "/crm/v3/objects/tickets/k-2?idProperty=handoff_key")).body).toMatchObject({
      id,
    });
    const patched = await call("PATCH", `/crm/v3/objects/tickets/${id}`, { properties: { subject: "b" } });
    expect(patched).toMatchObject({ status: 200, body: { id, properties: { subject: "b" } } });
    const missing = await call("PATCH", "/crm/v3/objects/tickets/999999", { properties: { subject: "c" } });
    expect(missing).toMatchObject({ status: 404, body: { status: "error", category: "OBJECT_NOT_FOUND" } });
  });

  it("associates through the v4 API, idempotently, and checks the type and both records", async () => {
    const hubspot = await start({ contacts: ["77"] });
    const ticket = await call("POST", "/crm/v3/objects/tickets", { properties: { subject: "a" } });
    const id = String(ticket.body?.["id"]);
    const types = [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: 16 }];
    const ok = await call("PUT", `/crm/v4/objects/tickets/${id}/associations/contacts/77`, types);
    expect(ok).toMatchObject({
      status: 200,
      body: { fromObjectTypeId: "0-5", fromObjectId: Number(id), toObjectTypeId: "0-1", toObjectId: 77 },
    });
    await call("PUT", `/crm/v4/objects/tickets/${id}/associations/contacts/77`, types);
    expect(hubspot.associations()).toHaveLength(1);
    const wrongType = await call("PUT", `/crm/v4/objects/tickets/${id}/associations/contacts/77`, [
      { associationCategory: "HUBSPOT_DEFINED", associationTypeId: 1 },
    ]);
    expect(wrongType).toMatchObject({ status: 400, body: { category: "VALIDATION_ERROR" } });
    const noContact = await call("PUT", `/crm/v4/objects/tickets/${id}/associations/contacts/78`, types);
    expect(noContact).toMatchObject({ status: 404, body: { category: "OBJECT_NOT_FOUND" } });
  });
});

describe("fake HubSpot: auth", () => {
  it("answers 401 INVALID_AUTHENTICATION without a known token", async () => {
    await start();
    for (const token of [null, "pat-na1-wrong"]) {
      const response = await call("POST", "/crm/v3/objects/tickets/batch/upsert", upsertBody("k", {}), token);
      expect(response).toMatchObject({
        status: 401,
        body: { status: "error", category: "INVALID_AUTHENTICATION" },
      });
    }
  });

  it("mints OAuth tokens from a refresh token, which then expire by time or by use", async () => {
    let now = 1_700_000_000_000;
    await start({
      now: () => now,
      oauth: {
        clientId: "cid",
        clientSecret: "cs",
        refreshToken: "rt",
        expiresInSec: 1_800,
        tokenMaxRequests: 2,
      },
    });
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      client_id: "cid",
      client_secret: "cs",
      refresh_token: "rt",
    });
    const minted = await fetch(`${fake?.url ?? ""}/oauth/v1/token`, { method: "POST", body: form });
    const token = (await minted.json()) as {
      access_token: string;
      expires_in: number;
      refresh_token: string;
      token_type: string;
    };
    expect(token).toMatchObject({ expires_in: 1_800, refresh_token: "rt", token_type: "bearer" });
    const path = "/crm/v3/objects/tickets/batch/upsert";
    expect((await call("POST", path, upsertBody("k", {}), token.access_token)).status).toBe(200);
    expect((await call("POST", path, upsertBody("k", {}), token.access_token)).status).toBe(200);
    expect(await call("POST", path, upsertBody("k", {}), token.access_token)).toMatchObject({
      status: 401,
      body: { category: "EXPIRED_AUTHENTICATION" },
    });

    const second = (await (
      await fetch(`${fake?.url ?? ""}/oauth/v1/token`, { method: "POST", body: form })
    ).json()) as { access_token: string };
    now += 1_800_000 + 120_000;
    expect(await call("POST", path, upsertBody("k", {}), second.access_token)).toMatchObject({
      status: 401,
      body: {
        category: "EXPIRED_AUTHENTICATION",
        message: "The OAuth token used to make this call expired 2 minute(s) ago.",
      },
    });
  });

  it("refuses a bad refresh token with BAD_REFRESH_TOKEN", async () => {
    await start({ oauth: { clientId: "cid", clientSecret: "cs", refreshToken: "rt" } });
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      client_id: "cid",
      client_secret: "cs",
      refresh_token: "nope",
    });
    const response = await fetch(`${fake?.url ?? ""}/oauth/v1/token`, { method: "POST", body: form });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ status: "BAD_REFRESH_TOKEN" });
  });

  it("answers 403 MISSING_SCOPES when the app lacks the object's scope", async () => {
    await start({ scopes: ["crm.objects.contacts.write"] });
    const response = await call("POST", "/crm/v3/objects/tickets/batch/upsert", upsertBody("k", {}));
    expect(response).toMatchObject({ status: 403, body: { status: "error", category: "MISSING_SCOPES" } });
  });
});

describe("fake HubSpot: rate limits", () => {
  it("sends the rate-limit headers on every answer", async () => {
    await start({ rateLimits: { tenSecondly: 100, daily: 250_000 } });
    const response = await call("POST", "/crm/v3/objects/tickets/batch/upsert", upsertBody("k", {}));
    expect(response.headers.get("x-hubspot-ratelimit-daily")).toBe("250000");
    expect(response.headers.get("x-hubspot-ratelimit-daily-remaining")).toBe("249999");
    expect(response.headers.get("x-hubspot-ratelimit-secondly")).toBe("10");
    expect(response.headers.get("x-hubspot-ratelimit-secondly-remaining")).toBe("10");
    expect(response.headers.get("x-hubspot-ratelimit-remaining")).toBe("99");
  });

  it("answers 429 TEN_SECONDLY_ROLLING past the rolling budget, with Retry-After, then recovers", async () => {
    let now = 1_700_000_000_000;
    await start({ now: () => now, rateLimits: { tenSecondly: 2 } });
    const path = "/crm/v3/objects/tickets/batch/upsert";
    await call("POST", path, upsertBody("k", {}));
    await call("POST", path, upsertBody("k", {}));
    const limited = await call("POST", path, upsertBody("k", {}));
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({
      status: "error",
      errorType: "RATE_LIMIT",
      policyName: "TEN_SECONDLY_ROLLING",
      correlationId: expect.any(String) as unknown,
    });
    expect(limited.headers.get("retry-after")).toBe("10");
    now += 10_001;
    expect((await call("POST", path, upsertBody("k", {}))).status).toBe(200);
  });

  it("can leave Retry-After out, as HubSpot does not promise it", async () => {
    await start({ rateLimits: { tenSecondly: 1 }, sendRetryAfter: false });
    await call("POST", "/crm/v3/objects/tickets/batch/upsert", upsertBody("k", {}));
    const limited = await call("POST", "/crm/v3/objects/tickets/batch/upsert", upsertBody("k", {}));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBeNull();
  });

  it("counts the 429s it answered", async () => {
    const hubspot = await start({ rateLimits: { tenSecondly: 1 } });
    const path = "/crm/v3/objects/tickets/batch/upsert";
    await call("POST", path, upsertBody("k", {}));
    expect(hubspot.rateLimited()).toBe(0);
    await call("POST", path, upsertBody("k", {}));
    await call("POST", path, upsertBody("k", {}));
    expect(hubspot.rateLimited()).toBe(2);
  });

  it("answers 429 DAILY once the daily budget is spent, until UTC midnight", async () => {
    let now = Date.parse("2026-03-01T23:59:00Z");
    await start({ now: () => now, rateLimits: { daily: 1 } });
    const path = "/crm/v3/objects/tickets/batch/upsert";
    expect((await call("POST", path, upsertBody("k", {}))).status).toBe(200);
    const limited = await call("POST", path, upsertBody("k", {}));
    expect(limited).toMatchObject({ status: 429, body: { errorType: "RATE_LIMIT", policyName: "DAILY" } });
    expect(limited.headers.get("x-hubspot-ratelimit-daily-remaining")).toBe("0");
    now = Date.parse("2026-03-02T00:00:01Z");
    expect((await call("POST", path, upsertBody("k", {}))).status).toBe(200);
  });
});

describe("fake HubSpot: batch limits", () => {
  it("refuses more than 100 inputs in one batch upsert, writing nothing", async () => {
    const hubspot = await start();
    const inputs = Array.from({ length: 101 }, (_, i) => ({
      idProperty: "handoff_key",
      id: `k-${i}`,
      properties: { subject: "x" },
    }));
    const response = await call("POST", "/crm/v3/objects/tickets/batch/upsert", { inputs });
    expect(response).toMatchObject({ status: 400, body: { category: "VALIDATION_ERROR" } });
    expect(hubspot.writes.all()).toEqual([]);
    const full = await call("POST", "/crm/v3/objects/tickets/batch/upsert", { inputs: inputs.slice(0, 100) });
    expect(full.status).toBe(200);
    expect(hubspot.records("tickets")).toHaveLength(100);
  });

  it("rejectInputs fails a share of inputs alone in a 207, applying the rest", async () => {
    const hubspot = await start();
    let draw = 0;
    // Every other input is refused.
    hubspot.rejectInputs(0.5, { category: "CONFLICT", message: "busy" }, () =>
      draw++ % 2 === 0 ? 0.9 : 0.1,
    );
    const inputs = ["a", "b", "c", "d"].map((id) => ({ idProperty: "handoff_key", id, properties: {} }));
    const response = await call("POST", "/crm/v3/objects/tickets/batch/upsert", { inputs });
    expect(response).toMatchObject({ status: 207, body: { numErrors: 2 } });
    expect(hubspot.records("tickets").map((r) => r.properties["handoff_key"])).toEqual(["a", "c"]);
  });

  it("counts a batch of 100 inputs as one request against both budgets", async () => {
    await start({ rateLimits: { tenSecondly: 5, daily: 1_000 } });
    const inputs = Array.from({ length: 100 }, (_, i) => ({
      idProperty: "handoff_key",
      id: `k-${i}`,
      properties: {},
    }));
    const response = await call("POST", "/crm/v3/objects/tickets/batch/upsert", { inputs });
    expect(response.headers.get("x-hubspot-ratelimit-daily-remaining")).toBe("999");
    expect(response.headers.get("x-hubspot-ratelimit-remaining")).toBe("4");
  });
});

describe("fake HubSpot: latency", () => {
  it("answers latencyMs after the request arrived, having applied the write on arrival", async () => {
    const hubspot = await start({ latencyMs: 150 });
    const sent = Date.now();
    const response = await call("POST", "/crm/v3/objects/tickets/batch/upsert", upsertBody("k", {}));
    const answered = Date.now();
    expect(response.status).toBe(200);
    expect(answered - sent).toBeGreaterThanOrEqual(145);
    const [write] = hubspot.writes.all();
    expect(Date.parse(write?.at ?? "")).toBeLessThan(answered - 100);
  });
});

describe("fake HubSpot: faults", () => {
  it("applies a batch at once but answers late with delay_after_commit", async () => {
    const hubspot = await start();
    hubspot.faults.next({ kind: "delay_after_commit", ms: 300 });
    const aborted = await fetch(`${hubspot.url}/crm/v3/objects/tickets/batch/upsert`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(upsertBody("k", { handoff_version: 1 })),
      signal: AbortSignal.timeout(100),
    }).catch((error: unknown) => error);
    expect(aborted).toBeInstanceOf(Error);
    expect(hubspot.records("tickets")).toHaveLength(1);
  });

  it("applies the write before a 503 with after_commit", async () => {
    const hubspot = await start();
    hubspot.faults.next({ kind: "after_commit", status: 503 });
    const response = await call(
      "POST",
      "/crm/v3/objects/tickets/batch/upsert",
      upsertBody("k", { handoff_version: 1 }),
    );
    expect(response.status).toBe(503);
    expect(hubspot.records("tickets")).toHaveLength(1);
    expect(hubspot.writes.all()).toHaveLength(1);
  });
});
