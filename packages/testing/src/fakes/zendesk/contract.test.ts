import { afterEach, describe, expect, it } from "vitest";
import {
  FAKE_ZENDESK_API_TOKEN,
  FAKE_ZENDESK_OAUTH_CLIENT,
  startFakeZendesk,
  type FakeZendesk,
  type FakeZendeskOptions,
} from "./fake-zendesk.js";

// The fake against the Zendesk Support examples in research/crm-apis.md, with plain fetch: never the
// adapter, so the fake cannot drift into agreeing with it.

const BASIC = `Basic ${Buffer.from(`${FAKE_ZENDESK_API_TOKEN.email}/token:${FAKE_ZENDESK_API_TOKEN.token}`).toString("base64")}`;

const fakes: FakeZendesk[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function fake(options: FakeZendeskOptions = {}): Promise<FakeZendesk> {
  const started = await startFakeZendesk(options);
  fakes.push(started);
  return started;
}

interface Call {
  readonly method?: string;
  readonly body?: unknown;
  readonly auth?: string;
  readonly headers?: Record<string, string>;
}

async function call(
  zd: FakeZendesk,
  path: string,
  { method = "GET", body, auth = BASIC, headers = {} }: Call = {},
): Promise<Response> {
  return fetch(`${zd.url}${path}`, {
    method,
    headers: {
      authorization: auth,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

// The create body exactly as the notes give it.
const createBody = (externalId = "conv-1", subject = "Refund over limit") => ({
  ticket: {
    subject,
    comment: { body: "Customer asked for a refund", public: false },
    requester: { email: "jane@example.com" },
    external_id: externalId,
    tags: ["handoff_sync", "handoff_v1"],
    custom_fields: [{ id: 360001, value: 1 }],
    group_id: 42,
  },
});

interface TicketBody {
  ticket: {
    id: number;
    external_id: string | null;
    tags: string[];
    updated_at: string;
    status: string;
    description: string;
  };
}

describe("fake Zendesk: ticket create", () => {
  it("answers 201 with a Location header and {ticket}", async () => {
    const zd = await fake();
    const response = await call(zd, "/api/v2/tickets", { method: "POST", body: createBody() });
    expect(response.status).toBe(201);
    const { ticket } = (await response.json()) as TicketBody;
    expect(response.headers.get("location")).toBe(`${zd.url}/api/v2/tickets/${ticket.id}.json`);
    expect(ticket).toMatchObject({
      external_id: "conv-1",
      subject: "Refund over limit",
      description: "Customer asked for a refund",
      status: "new",
      tags: ["handoff_sync", "handoff_v1"],
      custom_fields: [{ id: 360001, value: 1 }],
      group_id: 42,
    });
    expect(ticket.updated_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(response.headers.get("x-idempotency-lookup")).toBeNull();
    expect(zd.records()[0]?.comments).toEqual([
      expect.objectContaining({ body: "Customer asked for a refund", public: false }),
    ]);
    expect(zd.writes.all()).toEqual([
      expect.objectContaining({
        operation: "create",
        recordId: String(ticket.id),
        externalId: "conv-1",
        version: 1,
      }),
    ]);
  });

  it("does not keep external_id unique: a second create makes a second ticket, and both are listed oldest first", async () => {
    const zd = await fake();
    await call(zd, "/api/v2/tickets", { method: "POST", body: createBody("conv-1", "first") });
    await call(zd, "/api/v2/tickets", { method: "POST", body: createBody("conv-2", "other") });
    await call(zd, "/api/v2/tickets", { method: "POST", body: createBody("conv-1", "second") });
    const response = await call(zd, "/api/v2/tickets?external_id=conv-1");
    expect(response.status).toBe(200);
    const list = (await response.json()) as {
      tickets: { id: number; subject: string }[];
      count: number;
      next_page: null;
    };
    expect(list.count).toBe(2);
    expect(list.next_page).toBeNull();
    expect(list.tickets.map((t) => t.subject)).toEqual(["first", "second"]);
    expect(list.tickets[0]?.id).toBeLessThan(list.tickets[1]?.id ?? 0);
  });

  it("answers 422 RecordInvalid with details per field", async () => {
    const zd = await fake();
    const response = await call(zd, "/api/v2/tickets", {
      method: "POST",
      body: { ticket: { subject: "x", comment: { body: "" }, requester: { email: "not-an-email" } } },
    });
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual({
      error: "RecordInvalid",
      description: "Record validation errors",
      details: {
        description: [{ description: "Description: cannot be blank", error: "BlankValue" }],
        requester: [{ description: "Requester: Email is not properly formatted", error: "InvalidValue" }],
      },
    });
    expect(zd.records()).toHaveLength(0);
  });

  it("answers a body that is not JSON with a text/plain 400", async () => {
    const zd = await fake();
    const response = await call(zd, "/api/v2/tickets", { method: "POST", body: "{not json" });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await response.text()).toMatch(/not valid JSON/);
  });
});

describe("fake Zendesk: Idempotency-Key", () => {
  it("misses first, then replays the original response on a hit without a second ticket", async () => {
    const zd = await fake();
    const first = await call(zd, "/api/v2/tickets", {
      method: "POST",
      body: createBody(),
      headers: { "idempotency-key": "k-1" },
    });
    expect(first.status).toBe(201);
    expect(first.headers.get("x-idempotency-lookup")).toBe("miss");
    const firstBody = await first.text();
    const again = await call(zd, "/api/v2/tickets", {
      method: "POST",
      body: createBody(),
      headers: { "idempotency-key": "k-1" },
    });
    expect(again.status).toBe(201);
    expect(again.headers.get("x-idempotency-lookup")).toBe("hit");
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(await again.text()).toBe(firstBody);
    expect(zd.records()).toHaveLength(1);
    expect(zd.writes.all()).toHaveLength(1);
  });

  it("answers 400 IdempotentRequestError for the same key with a different body", async () => {
    const zd = await fake();
    await call(zd, "/api/v2/tickets", {
      method: "POST",
      body: createBody(),
      headers: { "idempotency-key": "k-1" },
    });
    const response = await call(zd, "/api/v2/tickets", {
      method: "POST",
      body: createBody("conv-1", "changed"),
      headers: { "idempotency-key": "k-1" },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("IdempotentRequestError");
    expect(zd.records()).toHaveLength(1);
  });

  it("forgets keys after their lifetime: the same request then creates a second ticket", async () => {
    let now = 1_700_000_000_000;
    const zd = await fake({ idempotencyTtlMs: 50, now: () => now });
    await call(zd, "/api/v2/tickets", {
      method: "POST",
      body: createBody(),
      headers: { "idempotency-key": "k-1" },
    });
    now += 51;
    const response = await call(zd, "/api/v2/tickets", {
      method: "POST",
      body: createBody(),
      headers: { "idempotency-key": "k-1" },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("x-idempotency-lookup")).toBe("miss");
    expect(zd.records()).toHaveLength(2);
  });

  it("refuses keys over 255 characters", async () => {
    const zd = await fake();
    const response = await call(zd, "/api/v2/tickets", {
      method: "POST",
      body: createBody(),
      headers: { "idempotency-key": "k".repeat(256) },
    });
    expect(response.status).toBe(400);
    expect(zd.records()).toHaveLength(0);
  });
});

describe("fake Zendesk: ticket update", () => {
  async function created(zd: FakeZendesk): Promise<TicketBody["ticket"]> {
    const response = await call(zd, "/api/v2/tickets", { method: "POST", body: createBody() });
    return ((await response.json()) as TicketBody).ticket;
  }

  it("PUT adds a comment and merges custom fields; a repeated PUT adds a second comment (no idempotency)", async () => {
    const zd = await fake();
    const ticket = await created(zd);
    const update = {
      ticket: {
        comment: { body: "Handoff completed", public: false },
        custom_fields: [{ id: 360001, value: 2 }],
        tags: ["handoff_sync", "handoff_v2"],
      },
    };
    const response = await call(zd, `/api/v2/tickets/${ticket.id}`, { method: "PUT", body: update });
    expect(response.status).toBe(200);
    const { ticket: updated } = (await response.json()) as TicketBody;
    expect(updated.tags).toEqual(["handoff_sync", "handoff_v2"]);
    expect(updated.updated_at > ticket.updated_at).toBe(true);
    await call(zd, `/api/v2/tickets/${ticket.id}`, { method: "PUT", body: update });
    const comments = await call(zd, `/api/v2/tickets/${ticket.id}/comments`);
    expect(((await comments.json()) as { count: number }).count).toBe(3);
    expect(zd.ticket(ticket.id)?.custom_fields).toEqual([{ id: 360001, value: 2 }]);
    expect(zd.writes.all().map((w) => [w.operation, w.version])).toEqual([
      ["create", 1],
      ["update", 2],
      ["update", 2],
    ]);
  });

  it("safe_update with an outdated updated_stamp answers 409 UpdateConflict and applies nothing", async () => {
    const zd = await fake();
    const ticket = await created(zd);
    zd.editTicket(ticket.id, { tags: ["vip"] });
    const response = await call(zd, `/api/v2/tickets/${ticket.id}`, {
      method: "PUT",
      body: { ticket: { comment: { body: "late" }, safe_update: true, updated_stamp: ticket.updated_at } },
    });
    expect(response.status).toBe(409);
    expect(((await response.json()) as { error: string }).error).toBe("UpdateConflict");
    expect(zd.ticket(ticket.id)?.comments).toHaveLength(1);
    const current = ((await (await call(zd, `/api/v2/tickets/${ticket.id}`)).json()) as TicketBody).ticket;
    const ok = await call(zd, `/api/v2/tickets/${ticket.id}`, {
      method: "PUT",
      body: { ticket: { comment: { body: "fresh" }, safe_update: true, updated_stamp: current.updated_at } },
    });
    expect(ok.status).toBe(200);
  });

  it("answers 404 RecordNotFound for a deleted ticket, which lists no longer show", async () => {
    const zd = await fake();
    const ticket = await created(zd);
    zd.deleteTicket(ticket.id);
    for (const method of ["GET", "PUT"]) {
      const response = await call(zd, `/api/v2/tickets/${ticket.id}`, {
        method,
        ...(method === "PUT" ? { body: { ticket: { comment: { body: "x" } } } } : {}),
      });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: "RecordNotFound", description: "Not found" });
    }
    const list = (await (await call(zd, "/api/v2/tickets?external_id=conv-1")).json()) as { count: number };
    expect(list.count).toBe(0);
  });

  it("refuses to update a closed ticket with 422", async () => {
    const zd = await fake();
    const ticket = await created(zd);
    zd.editTicket(ticket.id, { status: "closed" });
    const response = await call(zd, `/api/v2/tickets/${ticket.id}`, {
      method: "PUT",
      body: { ticket: { comment: { body: "x" } } },
    });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { error: string }).error).toBe("RecordInvalid");
  });
});

describe("fake Zendesk: auth", () => {
  it("accepts the API token as Basic {email}/token:{token} and refuses others with 401", async () => {
    const zd = await fake();
    expect((await call(zd, "/api/v2/tickets")).status).toBe(200);
    const wrong = `Basic ${Buffer.from(`${FAKE_ZENDESK_API_TOKEN.email}/token:wrong`).toString("base64")}`;
    const response = await call(zd, "/api/v2/tickets", { auth: wrong });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: "Couldn't authenticate you" });
  });

  it("issues bearer tokens for client credentials that expire after N requests", async () => {
    const zd = await fake({ tokenExpiry: { afterRequests: 2 } });
    const grant = await fetch(`${zd.url}/oauth/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        client_id: FAKE_ZENDESK_OAUTH_CLIENT.clientId,
        client_secret: FAKE_ZENDESK_OAUTH_CLIENT.clientSecret,
        scope: "tickets:read tickets:write",
      }),
    });
    expect(grant.status).toBe(200);
    const token = (await grant.json()) as { access_token: string; token_type: string; scope: string };
    expect(token).toMatchObject({ token_type: "bearer", scope: "tickets:read tickets:write" });
    const bearer = `Bearer ${token.access_token}`;
    expect((await call(zd, "/api/v2/tickets", { auth: bearer })).status).toBe(200);
    expect(
      (await call(zd, "/api/v2/tickets", { method: "POST", body: createBody(), auth: bearer })).status,
    ).toBe(201);
    const expired = await call(zd, "/api/v2/tickets", { auth: bearer });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: string }).error).toBe("invalid_token");
  });

  it("expires bearer tokens after a lifetime in ms, and refuses unknown clients", async () => {
    let now = 1_700_000_000_000;
    const zd = await fake({ tokenExpiry: { afterMs: 100 }, now: () => now });
    const grant = async (secret: string) =>
      fetch(`${zd.url}/oauth/tokens`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          grant_type: "client_credentials",
          client_id: FAKE_ZENDESK_OAUTH_CLIENT.clientId,
          client_secret: secret,
        }),
      });
    const refused = await grant("wrong");
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: string }).error).toBe("invalid_client");
    const { access_token } = (await (await grant(FAKE_ZENDESK_OAUTH_CLIENT.clientSecret)).json()) as {
      access_token: string;
    };
    now += 101;
    expect((await call(zd, "/api/v2/tickets", { auth: `Bearer ${access_token}` })).status).toBe(401);
  });

  it("answers 403 Forbidden when a read-only token writes", async () => {
    const zd = await fake();
    const grant = await fetch(`${zd.url}/oauth/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        client_id: FAKE_ZENDESK_OAUTH_CLIENT.clientId,
        client_secret: FAKE_ZENDESK_OAUTH_CLIENT.clientSecret,
        scope: "read",
      }),
    });
    const { access_token } = (await grant.json()) as { access_token: string };
    const response = await call(zd, "/api/v2/tickets", {
      method: "POST",
      body: createBody(),
      auth: `Bearer ${access_token}`,
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: string }).error).toBe("Forbidden");
  });

  it("accepts OAuth tokens issued beforehand", async () => {
    const zd = await fake({ accessTokens: ["static-token"] });
    expect((await call(zd, "/api/v2/tickets", { auth: "Bearer static-token" })).status).toBe(200);
  });
});

describe("fake Zendesk: rate limits and faults", () => {
  it("sends X-Rate-Limit headers and a text/plain 429 with Retry-After in seconds", async () => {
    let now = 1_700_000_000_000;
    const zd = await fake({ rateLimit: { limit: 2, windowMs: 60_000 }, now: () => now });
    const first = await call(zd, "/api/v2/tickets");
    expect(first.headers.get("x-rate-limit")).toBe("2");
    expect(first.headers.get("x-rate-limit-remaining")).toBe("1");
    await call(zd, "/api/v2/tickets");
    now += 15_000;
    const limited = await call(zd, "/api/v2/tickets");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("45");
    expect(limited.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(limited.headers.get("x-rate-limit-remaining")).toBe("0");
    now += 45_000;
    expect((await call(zd, "/api/v2/tickets")).status).toBe(200);
  });

  it("commits the create and then answers 503 under an after_commit fault", async () => {
    const zd = await fake();
    zd.faults.next({ kind: "after_commit", status: 503 });
    const response = await call(zd, "/api/v2/tickets", { method: "POST", body: createBody() });
    expect(response.status).toBe(503);
    expect(zd.records()).toHaveLength(1);
    expect(zd.writes.all()).toHaveLength(1);
  });
});
