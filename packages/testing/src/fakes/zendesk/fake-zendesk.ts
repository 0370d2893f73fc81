import { randomBytes } from "node:crypto";
import {
  startFakeServer,
  WriteLog,
  type FakeRequest,
  type FakeResponse,
  type FakeServer,
} from "../fake-server.js";
import { zendeskErrors } from "./responses.js";

export interface FakeZendeskComment {
  readonly id: number;
  readonly body: string;
  readonly public: boolean;
  readonly author_id: number;
  readonly created_at: string;
}

export interface FakeZendeskTicket {
  id: number;
  external_id: string | null;
  subject: string | null;
  description: string;
  status: string;
  priority: string | null;
  type: string | null;
  requester_id: number;
  submitter_id: number;
  assignee_id: number | null;
  group_id: number | null;
  brand_id: number | null;
  tags: string[];
  custom_fields: { id: number; value: unknown }[];
  via_followup_source_id: number | null;
  created_at: string;
  updated_at: string;
  /** Not part of Zendesk's ticket JSON (see GET /api/v2/tickets/{id}/comments); kept so tests can count. */
  comments: FakeZendeskComment[];
}

export interface FakeZendeskOptions {
  /** Accepted API tokens (Basic `{email}/token:{token}`). */
  readonly apiTokens?: readonly { readonly email: string; readonly token: string }[];
  /** Bearer tokens issued beforehand (OAuth Tokens API): they never expire. */
  readonly accessTokens?: readonly string[];
  /** Clients allowed the client_credentials grant at POST /oauth/tokens. */
  readonly oauthClients?: readonly { readonly clientId: string; readonly clientSecret: string }[];
  /** Issued grant tokens stop working after this many requests or milliseconds (or the requested `expires_in`). */
  readonly tokenExpiry?: { readonly afterRequests?: number; readonly afterMs?: number };
  /** How long an Idempotency-Key is remembered; Zendesk keeps them about 2 hours. */
  readonly idempotencyTtlMs?: number;
  /** Requests per window before 429; Zendesk plans allow 200 to 2,500 a minute. */
  readonly rateLimit?: { readonly limit: number; readonly windowMs: number };
  /** A custom field that holds the handoff version, read into the WriteLog. */
  readonly versionFieldId?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface FakeZendesk extends FakeServer {
  readonly writes: WriteLog;
  /** Every live ticket (deleted ones are gone), oldest first, copied. */
  records(): FakeZendeskTicket[];
  ticket(id: number): FakeZendeskTicket | undefined;
  /** What an admin deleting the ticket does: it disappears from reads and lists. */
  deleteTicket(id: number): void;
  /** What an agent editing the ticket does: the change bumps `updated_at`. */
  editTicket(id: number, change: { readonly status?: string; readonly tags?: readonly string[] }): void;
  /** Revokes every token issued by the grant endpoint. */
  revokeTokens(): void;
  /** What an admin deactivating (false) or reactivating (true) an API token in Admin Center does. */
  setApiTokenActive(token: string, active: boolean): void;
  /** How many tokens POST /oauth/tokens issued. */
  readonly tokensIssued: () => number;
}

export const FAKE_ZENDESK_API_TOKEN = {
  email: "integration@example.com",
  token: "zd-api-token-0000",
} as const;
export const FAKE_ZENDESK_OAUTH_CLIENT = {
  clientId: "handoff_sync",
  clientSecret: "zd-client-secret-0000",
} as const;

const STATUSES = new Set(["new", "open", "pending", "hold", "solved", "closed"]);
const PRIORITIES = new Set(["urgent", "high", "normal", "low"]);
const TYPES = new Set(["problem", "incident", "question", "task"]);
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const TICKET_PATH = /^\/api\/v2\/tickets\/(\d+)(?:\.json)?$/;
const COMMENTS_PATH = /^\/api\/v2\/tickets\/(\d+)\/comments(?:\.json)?$/;
const VERSION_TAG = /^handoff_v(\d+)$/;

interface IssuedToken {
  readonly scope: string;
  readonly expiresAtMs: number;
  uses: number;
  revoked: boolean;
}

interface Principal {
  readonly userId: number;
  readonly canWrite: boolean;
}

type Details = Record<string, { description: string; error: string }[]>;

/** Sorted-key JSON: Zendesk compares a replayed request's parameters, not its whitespace or key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function stringList(value: unknown): string[] | undefined {
  if (typeof value === "string") return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value))
    return value.filter((tag): tag is string => typeof tag === "string" && tag !== "");
  return undefined;
}

function nullableId(value: unknown): number | null | undefined {
  if (value === null) return null;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  return undefined;
}

/**
 * A Zendesk Support account for tests: tickets with comments, both auth methods, Idempotency-Key on
 * ticket create with expiry, `external_id` that is NOT unique, `safe_update`, rate-limit headers and
 * text/plain errors where Zendesk sends them. In memory; every applied write goes to `writes`.
 */
export async function startFakeZendesk(options: FakeZendeskOptions = {}): Promise<FakeZendesk> {
  const now = options.now ?? Date.now;
  const apiTokens = options.apiTokens ?? [FAKE_ZENDESK_API_TOKEN];
  const staticTokens = new Set(options.accessTokens ?? []);
  const inactiveApiTokens = new Set<string>();
  const clients = options.oauthClients ?? [FAKE_ZENDESK_OAUTH_CLIENT];
  const idempotencyTtlMs = options.idempotencyTtlMs ?? 2 * 60 * 60 * 1_000;
  const rateLimit = options.rateLimit ?? { limit: 700, windowMs: 60_000 };

  const writes = new WriteLog();
  const tickets = new Map<number, FakeZendeskTicket>();
  const users = new Map<string, number>(
    apiTokens.map(({ email }, index) => [email.toLowerCase(), index + 1]),
  );
  const issued = new Map<string, IssuedToken>();
  const idempotency = new Map<string, { fingerprint: string; response: FakeResponse; expiresAtMs: number }>();
  let nextTicketId = 1;
  let nextCommentId = 1;
  let nextUserId = users.size + 1;
  let tokensIssued = 0;
  let window = { startMs: now(), count: 0 };
  let baseUrl = "";

  // Zendesk timestamps have second precision; bumping past the last one keeps every write's
  // `updated_at` distinct, so `safe_update` notices writes that land within the same second.
  function stamp(previous?: string): string {
    let at = Math.floor(now() / 1_000) * 1_000;
    if (previous !== undefined) at = Math.max(at, Date.parse(previous) + 1_000);
    return new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  function ticketJson(ticket: FakeZendeskTicket): Record<string, unknown> {
    const { comments: _comments, ...fields } = ticket;
    return { url: `${baseUrl}/api/v2/tickets/${ticket.id}.json`, ...fields, raw_subject: ticket.subject };
  }

  function versionOf(ticket: FakeZendeskTicket): number | undefined {
    let version: number | undefined;
    for (const tag of ticket.tags) {
      const digits = VERSION_TAG.exec(tag)?.[1];
      if (digits !== undefined) version = Math.max(version ?? 0, Number(digits));
    }
    const field = ticket.custom_fields.find((f) => f.id === options.versionFieldId)?.value;
    if (typeof field === "number") version = Math.max(version ?? 0, field);
    return version;
  }

  function log(
    operation: "create" | "update" | "delete",
    ticket: FakeZendeskTicket,
    fields: Readonly<Record<string, unknown>>,
  ): void {
    const version = versionOf(ticket);
    writes.record({
      operation,
      object: "ticket",
      recordId: String(ticket.id),
      ...(ticket.external_id === null ? {} : { externalId: ticket.external_id }),
      ...(version === undefined ? {} : { version }),
      fields,
    });
  }

  function authenticate(header: string | undefined): Principal | FakeResponse {
    if (header?.startsWith("Basic ")) {
      const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
      const match = apiTokens.find(
        ({ email, token }) => decoded === `${email}/token:${token}` && !inactiveApiTokens.has(token),
      );
      if (match === undefined) return zendeskErrors.basicAuthFailed();
      return { userId: users.get(match.email.toLowerCase()) ?? 1, canWrite: true };
    }
    if (header?.startsWith("Bearer ")) {
      const token = header.slice(7);
      if (staticTokens.has(token)) return { userId: 1, canWrite: true };
      const grant = issued.get(token);
      if (grant === undefined || grant.revoked || now() >= grant.expiresAtMs)
        return zendeskErrors.invalidToken();
      const limit = options.tokenExpiry?.afterRequests;
      if (limit !== undefined && grant.uses >= limit) return zendeskErrors.invalidToken();
      grant.uses++;
      const scopes = grant.scope.split(/\s+/);
      return { userId: 1, canWrite: scopes.includes("write") || scopes.includes("tickets:write") };
    }
    return zendeskErrors.basicAuthFailed();
  }

  function issueToken(body: unknown): FakeResponse {
    if (!isRecord(body))
      return zendeskErrors.oauth(400, "invalid_request", "The request is missing a required parameter.");
    if (body.grant_type !== "client_credentials") {
      return zendeskErrors.oauth(
        400,
        "unsupported_grant_type",
        "The authorization grant type is not supported by the authorization server.",
      );
    }
    const client = clients.find(
      (c) => c.clientId === body.client_id && c.clientSecret === body.client_secret,
    );
    if (client === undefined) {
      return zendeskErrors.oauth(
        401,
        "invalid_client",
        "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
      );
    }
    const scope = typeof body.scope === "string" && body.scope.trim() !== "" ? body.scope : "read";
    const requested = typeof body.expires_in === "number" ? body.expires_in * 1_000 : undefined;
    const lifetimes = [requested, options.tokenExpiry?.afterMs].filter(
      (ms): ms is number => ms !== undefined,
    );
    const token = randomBytes(24).toString("hex");
    issued.set(token, {
      scope,
      expiresAtMs: lifetimes.length === 0 ? Number.POSITIVE_INFINITY : now() + Math.min(...lifetimes),
      uses: 0,
      revoked: false,
    });
    tokensIssued++;
    return {
      status: 200,
      body: {
        access_token: token,
        token_type: "bearer",
        scope,
        ...(requested === undefined ? {} : { expires_in: requested / 1_000 }),
      },
    };
  }

  function requesterId(value: unknown, details: Details, fallback: number): number {
    if (!isRecord(value)) return fallback;
    const email = typeof value.email === "string" ? value.email.toLowerCase() : undefined;
    if (email === undefined || !EMAIL.test(email)) {
      details.requester = [
        { description: "Requester: Email is not properly formatted", error: "InvalidValue" },
      ];
      return fallback;
    }
    let id = users.get(email);
    if (id === undefined) {
      id = nextUserId++;
      users.set(email, id);
    }
    return id;
  }

  function checkEnums(input: Record<string, unknown>, details: Details): void {
    const checks: [string, ReadonlySet<string>][] = [
      ["status", STATUSES],
      ["priority", PRIORITIES],
      ["type", TYPES],
    ];
    for (const [field, allowed] of checks) {
      const value = input[field];
      if (value !== undefined && value !== null && (typeof value !== "string" || !allowed.has(value))) {
        details[field] = [
          {
            description: `${field[0]?.toUpperCase() ?? ""}${field.slice(1)}: is invalid`,
            error: "InvalidValue",
          },
        ];
      }
    }
  }

  function mergeCustomFields(
    current: FakeZendeskTicket["custom_fields"],
    value: unknown,
  ): FakeZendeskTicket["custom_fields"] {
    if (!Array.isArray(value)) return current;
    const merged = new Map(current.map((field) => [field.id, field.value]));
    for (const field of value) {
      if (isRecord(field) && typeof field.id === "number") merged.set(field.id, field.value);
    }
    return [...merged].map(([id, v]) => ({ id, value: v }));
  }

  function addComment(ticket: FakeZendeskTicket, value: unknown, authorId: number): void {
    if (!isRecord(value)) return;
    const body =
      typeof value.body === "string"
        ? value.body
        : typeof value.html_body === "string"
          ? value.html_body
          : "";
    if (body.trim() === "") return;
    ticket.comments.push({
      id: nextCommentId++,
      body,
      public: value.public !== false,
      author_id: authorId,
      created_at: ticket.updated_at,
    });
  }

  function createTicket(body: unknown, principal: Principal): FakeResponse {
    if (!isRecord(body) || !isRecord(body.ticket)) return zendeskErrors.parameterMissing("ticket");
    const input = body.ticket;
    const details: Details = {};
    const comment = isRecord(input.comment) ? input.comment : undefined;
    const description =
      typeof comment?.body === "string"
        ? comment.body
        : typeof input.description === "string"
          ? input.description
          : "";
    if (description.trim() === "")
      details.description = [{ description: "Description: cannot be blank", error: "BlankValue" }];
    const requester = requesterId(
      input.requester,
      details,
      nullableId(input.requester_id) ?? principal.userId,
    );
    checkEnums(input, details);
    const followup = nullableId(input.via_followup_source_id);
    if (followup !== undefined && followup !== null && tickets.get(followup)?.status !== "closed") {
      details.via_followup_source_id = [
        { description: "Follow-up source: must be a closed ticket", error: "InvalidValue" },
      ];
    }
    if (Object.keys(details).length > 0) return zendeskErrors.recordInvalid(details);

    const at = stamp();
    const ticket: FakeZendeskTicket = {
      id: nextTicketId++,
      // Not unique: Zendesk stores whatever it is given, duplicates included.
      external_id: typeof input.external_id === "string" ? input.external_id : null,
      subject: typeof input.subject === "string" ? input.subject : description.slice(0, 80),
      description,
      status: typeof input.status === "string" ? input.status : "new",
      priority: typeof input.priority === "string" ? input.priority : null,
      type: typeof input.type === "string" ? input.type : null,
      requester_id: requester,
      submitter_id: principal.userId,
      assignee_id: nullableId(input.assignee_id) ?? null,
      group_id: nullableId(input.group_id) ?? null,
      brand_id: nullableId(input.brand_id) ?? null,
      tags: [...new Set(stringList(input.tags) ?? [])],
      custom_fields: mergeCustomFields([], input.custom_fields),
      via_followup_source_id: followup ?? null,
      created_at: at,
      updated_at: at,
      comments: [],
    };
    addComment(ticket, comment ?? { body: description }, principal.userId);
    tickets.set(ticket.id, ticket);
    log("create", ticket, input);
    return {
      status: 201,
      headers: { location: `${baseUrl}/api/v2/tickets/${ticket.id}.json` },
      body: { ticket: ticketJson(ticket), audit: { ticket_id: ticket.id, created_at: at } },
    };
  }

  function createWithIdempotency(request: FakeRequest, principal: Principal): FakeResponse {
    const header = request.headers["idempotency-key"];
    const key = Array.isArray(header) ? header[0] : header;
    if (key === undefined) return createTicket(request.body, principal);
    if (key.length > 255) return zendeskErrors.idempotencyKeyTooLong();
    for (const [stored, entry] of idempotency) if (now() >= entry.expiresAtMs) idempotency.delete(stored);
    const fingerprint = canonical(request.body);
    const previous = idempotency.get(key);
    if (previous !== undefined) {
      if (previous.fingerprint !== fingerprint) return zendeskErrors.idempotentRequestError();
      return {
        ...previous.response,
        headers: { ...previous.response.headers, "x-idempotency-lookup": "hit" },
      };
    }
    const response = createTicket(request.body, principal);
    // Only a created ticket is remembered: a refused request may be corrected and sent again.
    if (response.status === 201)
      idempotency.set(key, { fingerprint, response, expiresAtMs: now() + idempotencyTtlMs });
    return { ...response, headers: { ...response.headers, "x-idempotency-lookup": "miss" } };
  }

  function updateTicket(ticket: FakeZendeskTicket, body: unknown, principal: Principal): FakeResponse {
    if (!isRecord(body) || !isRecord(body.ticket)) return zendeskErrors.parameterMissing("ticket");
    const input = body.ticket;
    if (ticket.status === "closed") {
      return zendeskErrors.recordInvalid({
        status: [{ description: "Status: closed prevents ticket update", error: "StatusClosed" }],
      });
    }
    if (
      input.safe_update === true &&
      typeof input.updated_stamp === "string" &&
      input.updated_stamp !== ticket.updated_at
    ) {
      return zendeskErrors.updateConflict();
    }
    const details: Details = {};
    checkEnums(input, details);
    if (Object.keys(details).length > 0) return zendeskErrors.recordInvalid(details);

    ticket.updated_at = stamp(ticket.updated_at);
    if (typeof input.subject === "string") ticket.subject = input.subject;
    if (typeof input.status === "string") ticket.status = input.status;
    if (typeof input.priority === "string") ticket.priority = input.priority;
    if (typeof input.type === "string") ticket.type = input.type;
    if (typeof input.external_id === "string") ticket.external_id = input.external_id;
    for (const field of ["assignee_id", "group_id", "brand_id"] as const) {
      const value = nullableId(input[field]);
      if (value !== undefined) ticket[field] = value;
    }
    const tags = stringList(input.tags);
    if (tags !== undefined) ticket.tags = [...new Set(tags)];
    const added = stringList(input.additional_tags) ?? [];
    const removed = new Set(stringList(input.remove_tags) ?? []);
    ticket.tags = [...new Set([...ticket.tags, ...added])].filter((tag) => !removed.has(tag));
    ticket.custom_fields = mergeCustomFields(ticket.custom_fields, input.custom_fields);
    addComment(ticket, input.comment, principal.userId);
    log("update", ticket, input);
    return {
      status: 200,
      body: { ticket: ticketJson(ticket), audit: { ticket_id: ticket.id, created_at: ticket.updated_at } },
    };
  }

  function withRateLimit(response: FakeResponse, remaining: number): FakeResponse {
    return {
      ...response,
      headers: {
        ...response.headers,
        "x-rate-limit": String(rateLimit.limit),
        "x-rate-limit-remaining": String(Math.max(0, remaining)),
      },
    };
  }

  function api(request: FakeRequest): FakeResponse {
    const principal = authenticate(
      typeof request.headers.authorization === "string" ? request.headers.authorization : undefined,
    );
    if ("status" in principal) return principal;
    if (request.method !== "GET" && !principal.canWrite) return zendeskErrors.forbidden();
    if (
      request.method !== "GET" &&
      request.method !== "DELETE" &&
      request.body === undefined &&
      request.rawBody.trim() !== ""
    ) {
      return zendeskErrors.malformedBody();
    }

    if (/^\/api\/v2\/tickets(?:\.json)?$/.test(request.path)) {
      if (request.method === "POST") return createWithIdempotency(request, principal);
      if (request.method === "GET") {
        const externalId = request.query.get("external_id");
        const found = [...tickets.values()].filter(
          (t) => externalId === null || t.external_id === externalId,
        );
        return {
          status: 200,
          body: { tickets: found.map(ticketJson), next_page: null, previous_page: null, count: found.length },
        };
      }
    }
    const comments = COMMENTS_PATH.exec(request.path)?.[1];
    if (comments !== undefined && request.method === "GET") {
      const ticket = tickets.get(Number(comments));
      if (ticket === undefined) return zendeskErrors.notFound();
      return {
        status: 200,
        body: {
          comments: ticket.comments,
          next_page: null,
          previous_page: null,
          count: ticket.comments.length,
        },
      };
    }
    const id = TICKET_PATH.exec(request.path)?.[1];
    if (id !== undefined) {
      const ticket = tickets.get(Number(id));
      if (ticket === undefined) return zendeskErrors.notFound();
      if (request.method === "GET") return { status: 200, body: { ticket: ticketJson(ticket) } };
      if (request.method === "PUT") return updateTicket(ticket, request.body, principal);
      if (request.method === "DELETE") {
        tickets.delete(ticket.id);
        log("delete", ticket, {});
        return { status: 204 };
      }
    }
    return zendeskErrors.invalidEndpoint();
  }

  function handle(request: FakeRequest): FakeResponse {
    if (request.path === "/oauth/tokens" && request.method === "POST") return issueToken(request.body);
    if (!request.path.startsWith("/api/v2/")) return zendeskErrors.invalidEndpoint();
    if (now() - window.startMs >= rateLimit.windowMs) window = { startMs: now(), count: 0 };
    window.count++;
    const remaining = rateLimit.limit - window.count;
    if (remaining < 0) {
      const retryAfterSec = Math.max(1, Math.ceil((window.startMs + rateLimit.windowMs - now()) / 1_000));
      return withRateLimit(zendeskErrors.tooManyRequests(retryAfterSec), 0);
    }
    return withRateLimit(api(request), remaining);
  }

  const server = await startFakeServer(
    handle,
    options.random === undefined ? {} : { random: options.random },
  );
  baseUrl = server.url;

  return {
    ...server,
    writes,
    records: () => [...tickets.values()].map((ticket) => structuredClone(ticket)),
    ticket: (id) => {
      const ticket = tickets.get(id);
      return ticket === undefined ? undefined : structuredClone(ticket);
    },
    deleteTicket(id) {
      const ticket = tickets.get(id);
      if (ticket === undefined) return;
      tickets.delete(id);
      log("delete", ticket, {});
    },
    editTicket(id, change) {
      const ticket = tickets.get(id);
      if (ticket === undefined) throw new Error(`no ticket ${id}`);
      ticket.updated_at = stamp(ticket.updated_at);
      if (change.status !== undefined) ticket.status = change.status;
      if (change.tags !== undefined) ticket.tags = [...change.tags];
    },
    revokeTokens() {
      for (const grant of issued.values()) grant.revoked = true;
    },
    setApiTokenActive(token, active) {
      if (active) inactiveApiTokens.delete(token);
      else inactiveApiTokens.add(token);
    },
    tokensIssued: () => tokensIssued,
  };
}
