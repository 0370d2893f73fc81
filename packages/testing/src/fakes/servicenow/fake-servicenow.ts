import { randomBytes } from "node:crypto";
import {
  startFakeServer,
  WriteLog,
  type FakeRequest,
  type FakeResponse,
  type FakeServer,
} from "../fake-server.js";
import { matchesQuery, orderRecords, parseEncodedQuery, UnsupportedQueryError } from "./encoded-query.js";

/** Columns of the tables the fake knows, besides the system fields every record has. */
export const FAKE_SERVICENOW_TABLES: Readonly<Record<string, readonly string[]>> = {
  incident: [
    "short_description",
    "description",
    "caller_id",
    "assignment_group",
    "assigned_to",
    "state",
    "priority",
    "urgency",
    "impact",
    "category",
    "correlation_id",
    "correlation_display",
    "work_notes",
    "comments",
    "u_handoff_version",
  ],
  interaction: [
    "short_description",
    "description",
    "opened_for",
    "assignment_group",
    "assigned_to",
    "state",
    "type",
    "correlation_id",
    "correlation_display",
    "work_notes",
    "u_handoff_version",
  ],
};

const SYSTEM_FIELDS = ["sys_id", "number", "sys_created_on", "sys_updated_on", "sys_mod_count"] as const;
// Journal fields take input but read back empty; entries go to the record's activity stream.
const JOURNAL_FIELDS = new Set(["work_notes", "comments"]);
const NUMBER_PREFIX: Readonly<Record<string, string>> = { incident: "INC", interaction: "IMS" };

export interface FakeServiceNowOptions {
  /** Table name -> its columns. Defaults to FAKE_SERVICENOW_TABLES. */
  readonly tables?: Readonly<Record<string, readonly string[]>>;
  /** The Integer column the WriteLog reads the handoff version from. */
  readonly versionField?: string;
  /** The integration user (Basic and the OAuth password grant). */
  readonly username?: string;
  readonly password?: string;
  /** The OAuth application (System OAuth > Application Registry). */
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** A refresh token the instance accepts for the refresh_token grant. */
  readonly refreshToken?: string;
  /** `expires_in` of minted tokens, in seconds; also their real lifetime unless `tokenLifetimeMs` says otherwise. */
  readonly tokenExpiresInSec?: number;
  /** Server-side lifetime of a token, which may be shorter than what `expires_in` promised (a revocation). */
  readonly tokenLifetimeMs?: number;
  /** A token stops working after this many API requests (the same effect, counted in requests). */
  readonly tokenMaxRequests?: number;
  /** Rate limit rule applied to Table API requests: `limit` requests per `windowSec`. */
  readonly rateLimit?: { readonly limit: number; readonly windowSec: number; readonly rule?: string };
  /** Fields a data policy makes mandatory on insert: a create without them is refused with 403. */
  readonly mandatoryFields?: readonly string[];
  /** The integration user may read but not write (a 403 ACL failure on POST and PATCH). */
  readonly readOnly?: boolean;
  readonly nowMs?: () => number;
  readonly random?: () => number;
}

export interface FakeServiceNowJournalEntry {
  readonly field: string;
  readonly value: string;
  readonly at: string;
}

export interface FakeServiceNow extends FakeServer {
  readonly writes: WriteLog;
  /** Current records of a table (default `incident`), in creation order; copies. */
  records(table?: string): Record<string, string>[];
  /** Work notes and comments written to a record, oldest first. */
  journal(sysId: string): readonly FakeServiceNowJournalEntry[];
  /** Deletes a record as an admin would in the UI; answers false when there was none. */
  deleteRecord(table: string, sysId: string): boolean;
  /** Access tokens minted so far. */
  readonly tokensIssued: () => number;
}

interface StoredRecord {
  readonly table: string;
  fields: Record<string, string>;
}

interface IssuedToken {
  readonly expiresAtMs: number;
  requestsLeft: number;
}

function failure(
  status: number,
  message: string,
  detail: string | null,
  headers?: Record<string, string>,
): FakeResponse {
  return { status, body: { error: { message, detail }, status: "failure" }, ...(headers ? { headers } : {}) };
}

function glideDateTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

// The Table API stores and answers every value as text.
function asText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/**
 * A ServiceNow instance's Table API and OAuth endpoint, in memory. Like the real one it has no
 * upsert and keeps `correlation_id` NOT unique: a POST with a correlation id already in use creates
 * another record. Unknown fields in writes are dropped silently, query terms on unknown fields are
 * dropped too, and `=` ignores case. Reference fields come back as plain sys_ids (as with
 * `sysparm_exclude_reference_link=true`).
 */
export async function startFakeServiceNow(options: FakeServiceNowOptions = {}): Promise<FakeServiceNow> {
  const now = options.nowMs ?? Date.now;
  const tables = options.tables ?? FAKE_SERVICENOW_TABLES;
  const versionField = options.versionField ?? "u_handoff_version";
  const username = options.username ?? "integration.user";
  const password = options.password ?? "integration-password";
  const clientId = options.clientId ?? "fake-client-id";
  const clientSecret = options.clientSecret ?? "fake-client-secret";
  const refreshToken = options.refreshToken ?? "fake-refresh-token";
  const expiresInSec = options.tokenExpiresInSec ?? 1_800;
  const lifetimeMs = options.tokenLifetimeMs ?? expiresInSec * 1_000;
  const basicHeader = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

  const writes = new WriteLog();
  const records = new Map<string, StoredRecord>();
  const journals = new Map<string, FakeServiceNowJournalEntry[]>();
  const counters = new Map<string, number>();
  const tokens = new Map<string, IssuedToken>();
  let tokensIssued = 0;
  let window = { startsAtMs: 0, used: 0 };

  const columns = (table: string): ReadonlySet<string> =>
    new Set([...SYSTEM_FIELDS, ...(tables[table] ?? [])]);

  function rateLimitHeaders(): { headers: Record<string, string>; exceeded: boolean; retryAfterSec: number } {
    const rule = options.rateLimit;
    if (rule === undefined) return { headers: {}, exceeded: false, retryAfterSec: 0 };
    const windowMs = rule.windowSec * 1_000;
    if (now() >= window.startsAtMs + windowMs) window = { startsAtMs: now() - (now() % windowMs), used: 0 };
    window.used++;
    const resetMs = window.startsAtMs + windowMs;
    return {
      headers: {
        "X-RateLimit-Limit": String(rule.limit),
        "X-RateLimit-Reset": String(Math.ceil(resetMs / 1_000)),
        "X-RateLimit-Rule": rule.rule ?? "handoff-sync integration user",
      },
      exceeded: window.used > rule.limit,
      retryAfterSec: Math.max(1, Math.ceil((resetMs - now()) / 1_000)),
    };
  }

  function authenticated(request: FakeRequest): boolean {
    const header = request.headers.authorization;
    if (header === basicHeader) return true;
    if (header?.startsWith("Bearer ") !== true) return false;
    const token = tokens.get(header.slice("Bearer ".length));
    if (token === undefined || now() >= token.expiresAtMs || token.requestsLeft <= 0) return false;
    token.requestsLeft--;
    return true;
  }

  function oauthToken(request: FakeRequest): FakeResponse {
    const form = (request.body ?? {}) as Record<string, string | undefined>;
    const denied: FakeResponse = {
      status: 401,
      body: { error_description: "access_denied", error: "server_error" },
    };
    if (form["client_id"] !== clientId || form["client_secret"] !== clientSecret) return denied;
    const grant = form["grant_type"];
    if (grant === "password") {
      if (form["username"] !== username || form["password"] !== password) return denied;
    } else if (grant === "refresh_token") {
      if (form["refresh_token"] !== refreshToken) return denied;
    } else if (grant !== "client_credentials") {
      return { status: 400, body: { error_description: "access_denied", error: "unsupported_grant_type" } };
    }
    const accessToken = randomBytes(24).toString("base64url");
    tokens.set(accessToken, {
      expiresAtMs: now() + lifetimeMs,
      requestsLeft: options.tokenMaxRequests ?? Number.POSITIVE_INFINITY,
    });
    tokensIssued++;
    return {
      status: 200,
      body: {
        access_token: accessToken,
        ...(grant === "client_credentials"
          ? {}
          : {
              refresh_token: grant === "refresh_token" ? refreshToken : randomBytes(24).toString("base64url"),
            }),
        scope: "useraccount",
        token_type: "Bearer",
        expires_in: expiresInSec,
      },
    };
  }

  function view(record: StoredRecord, fieldsParam: string | null): Record<string, string> {
    const wanted =
      fieldsParam === null || fieldsParam === ""
        ? undefined
        : fieldsParam.split(",").map((field) => field.trim());
    if (wanted === undefined) return { ...record.fields };
    const out: Record<string, string> = {};
    for (const field of wanted) {
      const value = record.fields[field];
      if (value !== undefined) out[field] = value;
    }
    return out;
  }

  function applyFields(record: StoredRecord, body: Record<string, unknown>): Record<string, string> {
    const known = columns(record.table);
    const applied: Record<string, string> = {};
    for (const [field, raw] of Object.entries(body)) {
      if (!known.has(field) || (SYSTEM_FIELDS as readonly string[]).includes(field)) continue;
      const value = asText(raw);
      applied[field] = value;
      if (JOURNAL_FIELDS.has(field)) {
        if (value !== "") {
          const sysId = record.fields["sys_id"] ?? "";
          journals.set(sysId, [...(journals.get(sysId) ?? []), { field, value, at: glideDateTime(now()) }]);
        }
        continue;
      }
      record.fields[field] = value;
    }
    return applied;
  }

  function logWrite(
    operation: "create" | "update",
    record: StoredRecord,
    applied: Record<string, string>,
  ): void {
    const version = Number.parseInt(record.fields[versionField] ?? "", 10);
    const correlationId = record.fields["correlation_id"];
    writes.record({
      operation,
      object: record.table,
      recordId: record.fields["sys_id"] ?? "",
      ...(correlationId === undefined || correlationId === "" ? {} : { externalId: correlationId }),
      ...(Number.isNaN(version) ? {} : { version }),
      fields: applied,
    });
  }

  function tableApi(
    request: FakeRequest,
    table: string,
    sysId: string | undefined,
    baseUrl: string,
  ): FakeResponse {
    if (tables[table] === undefined) return failure(400, `Invalid table ${table}`, null);
    const fieldsParam = request.query.get("sysparm_fields");
    const isWrite =
      request.method === "POST" ||
      request.method === "PATCH" ||
      request.method === "PUT" ||
      request.method === "DELETE";
    if (isWrite && options.readOnly === true)
      return failure(403, "User Not Authorized", "Failed API level ACL Validation");
    if (
      isWrite &&
      request.method !== "DELETE" &&
      (request.body === null || typeof request.body !== "object" || Array.isArray(request.body))
    ) {
      return failure(400, "Exception while reading request", "The payload is not valid JSON.");
    }
    const body = (request.body ?? {}) as Record<string, unknown>;

    if (sysId === undefined) {
      if (request.method === "GET") {
        let query;
        try {
          query = parseEncodedQuery(request.query.get("sysparm_query") ?? "", (field) =>
            columns(table).has(field),
          );
        } catch (error) {
          if (error instanceof UnsupportedQueryError) return failure(400, error.message, null);
          throw error;
        }
        const matching = orderRecords(
          [...records.values()].filter((record) => record.table === table).map((record) => record.fields),
          query,
        ).filter((fields) => matchesQuery(fields, query));
        const offset = Number(request.query.get("sysparm_offset") ?? "0") || 0;
        const limit = Number(request.query.get("sysparm_limit") ?? "10000") || 10_000;
        const page = matching.slice(offset, offset + limit);
        return {
          status: 200,
          body: { result: page.map((fields) => view({ table, fields }, fieldsParam)) },
          headers: { "X-Total-Count": String(matching.length) },
        };
      }
      if (request.method === "POST") {
        const missing = (options.mandatoryFields ?? []).filter((field) => asText(body[field]) === "");
        if (missing.length > 0) {
          return failure(
            403,
            "Operation Failed",
            `Data Policy Exception: \n\tThe following fields are mandatory: ${missing.join(", ")}`,
          );
        }
        const count = (counters.get(table) ?? 10_000) + 1;
        counters.set(table, count);
        const created = glideDateTime(now());
        const newSysId = randomBytes(16).toString("hex");
        const fields: Record<string, string> = Object.fromEntries(
          (tables[table] ?? []).map((field) => [field, ""]),
        );
        const record: StoredRecord = {
          table,
          fields: {
            ...fields,
            sys_id: newSysId,
            number: `${NUMBER_PREFIX[table] ?? table.slice(0, 3).toUpperCase()}${String(count).padStart(7, "0")}`,
            sys_created_on: created,
            sys_updated_on: created,
            sys_mod_count: "0",
          },
        };
        records.set(newSysId, record);
        logWrite("create", record, applyFields(record, body));
        return {
          status: 201,
          body: { result: view(record, fieldsParam) },
          headers: { Location: `${baseUrl}/api/now/table/${table}/${newSysId}` },
        };
      }
      return failure(405, "Method not Supported", `${request.method} is not supported on a table`);
    }

    const record = records.get(sysId);
    if (record === undefined || record.table !== table) {
      return failure(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval");
    }
    if (request.method === "GET") return { status: 200, body: { result: view(record, fieldsParam) } };
    if (request.method === "PATCH" || request.method === "PUT") {
      const applied = applyFields(record, body);
      record.fields["sys_updated_on"] = glideDateTime(now());
      record.fields["sys_mod_count"] = String(Number(record.fields["sys_mod_count"] ?? "0") + 1);
      logWrite("update", record, applied);
      return { status: 200, body: { result: view(record, fieldsParam) } };
    }
    if (request.method === "DELETE") {
      records.delete(sysId);
      writes.record({ operation: "delete", object: table, recordId: sysId, fields: {} });
      return { status: 204 };
    }
    return failure(405, "Method not Supported", `${request.method} is not supported on a record`);
  }

  let baseUrl = "";
  const server = await startFakeServer(
    (request) => {
      if (request.path === "/oauth_token.do" && request.method === "POST") return oauthToken(request);
      const match = /^\/api\/now\/(?:v[12]\/)?table\/([^/]+)(?:\/([^/]+))?\/?$/.exec(request.path);
      if (match === null) return failure(400, "Requested URI does not represent any resource", null);
      const limits = rateLimitHeaders();
      const withLimits = (response: FakeResponse): FakeResponse => ({
        ...response,
        headers: { ...limits.headers, ...response.headers },
      });
      if (!authenticated(request))
        return withLimits(failure(401, "User Not Authenticated", "Required to provide Auth information"));
      if (limits.exceeded) {
        return withLimits(
          failure(429, "Too Many Requests", "User has exceeded the rate limit", {
            "Retry-After": String(limits.retryAfterSec),
          }),
        );
      }
      const [, table = "", sysId] = match;
      return withLimits(
        tableApi(
          request,
          decodeURIComponent(table),
          sysId === undefined ? undefined : decodeURIComponent(sysId),
          baseUrl,
        ),
      );
    },
    options.random === undefined ? {} : { random: options.random },
  );
  baseUrl = server.url;

  return Object.assign(server, {
    writes,
    records(table = "incident") {
      return [...records.values()]
        .filter((record) => record.table === table)
        .map((record) => ({ ...record.fields }));
    },
    journal(sysId: string) {
      return [...(journals.get(sysId) ?? [])];
    },
    deleteRecord(table: string, sysId: string) {
      const record = records.get(sysId);
      if (record === undefined || record.table !== table) return false;
      records.delete(sysId);
      writes.record({ operation: "delete", object: table, recordId: sysId, fields: {} });
      return true;
    },
    tokensIssued: () => tokensIssued,
  });
}
