import { createHmac, randomBytes } from "node:crypto";
import {
  startFakeServer,
  WriteLog,
  type AppliedWrite,
  type FakeRequest,
  type FakeResponse,
  type FakeServer,
} from "../fake-server.js";
import {
  NOT_FOUND_MESSAGE,
  PROCESSING_HALTED_MESSAGE,
  salesforceErrors,
  type SalesforceApiError,
} from "./errors.js";
import { checkJwtAssertion, type JwtBearerSettings } from "./jwt-assertion.js";

export interface FakeSalesforceObject {
  /** Fields marked External ID: the only ones `PATCH /sobjects/{object}/{field}/{value}` accepts. */
  readonly externalIdFields: readonly string[];
  /** When given, any other field in a body is refused with 400 INVALID_FIELD, as an org without that field would. */
  readonly fields?: readonly string[];
  /** Refused with 400 REQUIRED_FIELD_MISSING when a create lacks them. */
  readonly requiredFields?: readonly string[];
  /** Lookups that must name an existing record (400 INVALID_CROSS_REFERENCE_KEY otherwise). */
  readonly lookupFields?: readonly string[];
  /** The 3-character id prefix (500 for Case, 00T for Task). */
  readonly keyPrefix?: string;
}

export type FakeSalesforceRecord = Readonly<Record<string, unknown>> & { readonly Id: string };

export interface FakeSalesforceOptions {
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Enables the JWT bearer grant; assertions are verified with this public key. */
  readonly jwt?: JwtBearerSettings;
  readonly objects?: Readonly<Record<string, FakeSalesforceObject>>;
  /** Field whose number the write log records as the handoff version. */
  readonly versionField?: string;
  /** A session token stops working after this many API requests (401 INVALID_SESSION_ID). */
  readonly sessionMaxRequests?: number;
  /** ... or this long after it was issued. */
  readonly sessionTtlMs?: number;
  /** The org's daily API request allowance, reported in Sforce-Limit-Info; 403 REQUEST_LIMIT_EXCEEDED past it. */
  readonly dailyApiLimit?: number;
  /** Custom validation rules: an error refuses the write with 400 (e.g. FIELD_CUSTOM_VALIDATION_EXCEPTION). */
  readonly validate?: (
    object: string,
    fields: Readonly<Record<string, unknown>>,
    existing: FakeSalesforceRecord | undefined,
  ) => SalesforceApiError | undefined;
  readonly nowMs?: () => number;
}

export interface FakeSalesforce extends FakeServer {
  readonly writes: WriteLog;
  /** Live records of one sObject type (Case when omitted), deleted ones excluded. */
  records(object?: string): FakeSalesforceRecord[];
  /** Inserts a record directly, bypassing uniqueness: seed two with one external id to get 300 answers. */
  seedRecord(object: string, fields: Readonly<Record<string, unknown>>): string;
  /** Deletes a record as a user would (to the recycle bin). */
  deleteRecord(object: string, id: string): void;
  /** Ends every session, as an admin revoking them or the inactivity timeout would. */
  expireSessions(): void;
  apiUsage(): { used: number; max: number };
  setApiUsage(used: number): void;
  /** Token requests answered with a token. */
  tokensIssued(): number;
}

export const DEFAULT_FAKE_SALESFORCE_OBJECTS: Readonly<Record<string, FakeSalesforceObject>> = {
  Case: { externalIdFields: ["Handoff_Key__c"], keyPrefix: "500" },
  Task: { externalIdFields: ["Handoff_Key__c"], lookupFields: ["WhatId"], keyPrefix: "00T" },
};

const JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const API_PATH = /^\/services\/data\/v(\d{2,3}\.0)(\/.*)$/;
const MAX_COMPOSITE_SUBREQUESTS = 25;
/** sObject Collections take at most 200 records per call. */
const MAX_COLLECTION_RECORDS = 200;
const COLLECTION_UPSERT = /^\/composite\/sobjects\/([^/]+)\/([^/]+)$/;

interface Session {
  readonly issuedAtMs: number;
  requests: number;
}

type Store = Map<string, Map<string, Record<string, unknown>>>;

/** One unit of work: writes are buffered so a composite call with allOrNone can roll them back. */
interface Transaction {
  readonly store: Store;
  readonly deleted: Map<string, Set<string>>;
  readonly writes: Omit<AppliedWrite, "seq" | "at">[];
}

interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

const errorAnswer = (
  status: number,
  errorCode: string,
  message: string,
  fields: readonly string[] = [],
): Answer => ({
  status,
  body: salesforceErrors(errorCode, message, fields),
});

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function cloneStore(store: Store): Store {
  return new Map(
    [...store].map(([object, rows]) => [object, new Map([...rows].map(([id, row]) => [id, { ...row }]))]),
  );
}

/**
 * A Salesforce org's REST API as the adapters meet it: both OAuth grants, sessions that expire,
 * external-id upsert (with 300 on duplicates, which only seeding can create), update by id, composite
 * with allOrNone and references, array error bodies, and Sforce-Limit-Info with the daily quota.
 */
export async function startFakeSalesforce(options: FakeSalesforceOptions = {}): Promise<FakeSalesforce> {
  const clientId = options.clientId ?? "fake-client-id";
  const clientSecret = options.clientSecret ?? "fake-client-secret";
  const objects = options.objects ?? DEFAULT_FAKE_SALESFORCE_OBJECTS;
  const versionField = options.versionField ?? "Handoff_Version__c";
  const now = options.nowMs ?? Date.now;
  const writes = new WriteLog();
  let store: Store = new Map(
    Object.keys(objects).map((name) => [name, new Map<string, Record<string, unknown>>()]),
  );
  let deleted = new Map<string, Set<string>>(Object.keys(objects).map((name) => [name, new Set<string>()]));
  const sessions = new Map<string, Session>();
  const limit = { used: 0, max: options.dailyApiLimit ?? 15_000 };
  let issued = 0;
  let nextId = 1;
  let baseUrl = "";

  const newId = (object: string): string => {
    const prefix = objects[object]?.keyPrefix ?? "a0X";
    return `${prefix}Hs${String(nextId++).padStart(10, "0")}AAA`;
  };

  function issueToken(): FakeResponse {
    const accessToken = `00DHs0000000001!${randomBytes(24).toString("base64url")}`;
    sessions.set(accessToken, { issuedAtMs: now(), requests: 0 });
    issued++;
    const issuedAt = String(now());
    const id = `${baseUrl}/id/00DHs0000000001EAA/005Hs0000000001AAA`;
    return {
      status: 200,
      body: {
        access_token: accessToken,
        instance_url: baseUrl,
        id,
        token_type: "Bearer",
        issued_at: issuedAt,
        signature: createHmac("sha256", clientSecret)
          .update(id + issuedAt)
          .digest("base64"),
        scope: "api",
      },
    };
  }

  function token(request: FakeRequest): FakeResponse {
    const form = isObject(request.body) ? request.body : {};
    const oauthError = (error: string, description: string): FakeResponse => ({
      status: 400,
      body: { error, error_description: description },
    });
    if (form["grant_type"] === "client_credentials") {
      if (form["client_id"] !== clientId) return oauthError("invalid_client_id", "client identifier invalid");
      if (form["client_secret"] !== clientSecret)
        return oauthError("invalid_client", "invalid client credentials");
      return issueToken();
    }
    if (form["grant_type"] === JWT_GRANT) {
      if (options.jwt === undefined) return oauthError("invalid_grant", "invalid assertion");
      const assertion = typeof form["assertion"] === "string" ? form["assertion"] : "";
      const problem = checkJwtAssertion(assertion, clientId, options.jwt, now());
      return problem === undefined ? issueToken() : { status: 400, body: problem };
    }
    return oauthError("unsupported_grant_type", "grant type not supported");
  }

  /** Checks the bearer session; undefined when it may proceed. */
  function authenticate(request: FakeRequest): Answer | undefined {
    const header = request.headers.authorization ?? "";
    const accessToken = header.startsWith("Bearer ") ? header.slice(7) : "";
    const session = sessions.get(accessToken);
    const expired =
      session === undefined ||
      (options.sessionTtlMs !== undefined && now() - session.issuedAtMs >= options.sessionTtlMs) ||
      (options.sessionMaxRequests !== undefined && session.requests >= options.sessionMaxRequests);
    if (expired) {
      sessions.delete(accessToken);
      return errorAnswer(401, "INVALID_SESSION_ID", "Session expired or invalid");
    }
    session.requests++;
    return undefined;
  }

  function row(tx: Transaction, object: string, id: string): Record<string, unknown> | undefined {
    return tx.store.get(object)?.get(id);
  }

  function describeRecord(
    object: string,
    record: Record<string, unknown>,
    version: string,
  ): Record<string, unknown> {
    return {
      attributes: {
        type: object,
        url: `/services/data/v${version}/sobjects/${object}/${String(record["Id"])}`,
      },
      ...record,
    };
  }

  /** Field checks shared by create and update; an answer means the write is refused. */
  function checkFields(
    tx: Transaction,
    object: string,
    fields: Record<string, unknown>,
    existing: Record<string, unknown> | undefined,
  ): Answer | undefined {
    const described = objects[object];
    if (described?.fields !== undefined) {
      const known = new Set([...described.fields, ...described.externalIdFields, "Id"]);
      const unknown = Object.keys(fields).find((field) => !known.has(field));
      if (unknown !== undefined)
        return errorAnswer(400, "INVALID_FIELD", `No such column '${unknown}' on sobject of type ${object}`, [
          unknown,
        ]);
    }
    if (existing === undefined) {
      const missing = (described?.requiredFields ?? []).filter(
        (field) => fields[field] === undefined || fields[field] === null || fields[field] === "",
      );
      if (missing.length > 0)
        return errorAnswer(
          400,
          "REQUIRED_FIELD_MISSING",
          `Required fields are missing: [${missing.join(", ")}]`,
          missing,
        );
    }
    for (const field of described?.lookupFields ?? []) {
      const target = fields[field];
      if (target === undefined || target === null) continue;
      const exists = typeof target === "string" && [...tx.store.values()].some((rows) => rows.has(target));
      if (!exists)
        return errorAnswer(400, "INVALID_CROSS_REFERENCE_KEY", `invalid cross reference id`, [field]);
    }
    const refused = options.validate?.(object, fields, existing as FakeSalesforceRecord | undefined);
    if (refused !== undefined) return { status: 400, body: [refused] };
    return undefined;
  }

  function logWrite(
    tx: Transaction,
    operation: AppliedWrite["operation"],
    object: string,
    record: Record<string, unknown>,
    fields: Record<string, unknown>,
    externalId?: string,
  ): void {
    const version = record[versionField];
    tx.writes.push({
      operation,
      object,
      recordId: String(record["Id"]),
      ...(externalId === undefined ? {} : { externalId }),
      ...(typeof version === "number" ? { version } : {}),
      fields: { ...fields },
    });
  }

  function upsert(
    tx: Transaction,
    version: string,
    object: string,
    field: string,
    value: string,
    body: unknown,
    updateOnly: boolean,
  ): Answer {
    if (!objects[object]?.externalIdFields.includes(field))
      return errorAnswer(
        404,
        "NOT_FOUND",
        `Provided external ID field does not exist or is not accessible: ${field}`,
      );
    if (!isObject(body))
      return errorAnswer(400, "JSON_PARSER_ERROR", "Unexpected character: was expecting a JSON object");
    const { attributes: _attributes, ...fields } = body;
    for (const forbidden of ["Id", field]) {
      if (Object.keys(fields).some((name) => name.toLowerCase() === forbidden.toLowerCase()))
        return errorAnswer(
          400,
          "INVALID_FIELD",
          `Unable to create/update fields: ${forbidden}. The body of an upsert by external ID must not set it.`,
          [forbidden],
        );
    }
    const rows = tx.store.get(object) ?? new Map<string, Record<string, unknown>>();
    const matches = [...rows.values()].filter((record) => record[field] === value);
    if (matches.length > 1)
      return {
        status: 300,
        body: matches.map(
          (record) => `/services/data/v${version}/sobjects/${object}/${String(record["Id"])}`,
        ),
      };
    const existing = matches[0];
    if (existing === undefined && updateOnly) return errorAnswer(404, "NOT_FOUND", NOT_FOUND_MESSAGE);
    const refused = checkFields(tx, object, fields, existing);
    if (refused !== undefined) return refused;
    // The created flag and a body on update arrived with API v46.0; older versions answer 204.
    const modern = Number(version) >= 46;
    if (existing === undefined) {
      const record = { Id: newId(object), [field]: value, ...fields };
      rows.set(record.Id, record);
      tx.store.set(object, rows);
      logWrite(tx, "create", object, record, fields, value);
      return {
        status: 201,
        body: { id: record.Id, success: true, errors: [], ...(modern ? { created: true } : {}) },
        headers: { Location: `/services/data/v${version}/sobjects/${object}/${record.Id}` },
      };
    }
    Object.assign(existing, fields);
    logWrite(tx, "update", object, existing, fields, value);
    return modern
      ? { status: 200, body: { id: existing["Id"], success: true, errors: [], created: false } }
      : { status: 204 };
  }

  function updateById(tx: Transaction, object: string, id: string, body: unknown): Answer {
    if (!isObject(body))
      return errorAnswer(400, "JSON_PARSER_ERROR", "Unexpected character: was expecting a JSON object");
    const { attributes: _attributes, ...fields } = body;
    if (tx.deleted.get(object)?.has(id)) return errorAnswer(404, "ENTITY_IS_DELETED", "entity is deleted");
    const existing = row(tx, object, id);
    if (existing === undefined) return errorAnswer(404, "NOT_FOUND", NOT_FOUND_MESSAGE);
    if ("Id" in fields && fields["Id"] !== id)
      return errorAnswer(
        400,
        "INVALID_ID_FIELD",
        "The Id field should not be specified in the sobject data.",
        ["Id"],
      );
    const refused = checkFields(tx, object, fields, existing);
    if (refused !== undefined) return refused;
    Object.assign(existing, fields);
    const externalId = objects[object]?.externalIdFields
      .map((name) => existing[name])
      .find((v) => typeof v === "string");
    logWrite(tx, "update", object, existing, fields, externalId);
    return { status: 204 };
  }

  function remove(tx: Transaction, object: string, id: string): Answer {
    const existing = row(tx, object, id);
    if (existing === undefined)
      return tx.deleted.get(object)?.has(id)
        ? errorAnswer(404, "ENTITY_IS_DELETED", "entity is deleted")
        : errorAnswer(404, "NOT_FOUND", NOT_FOUND_MESSAGE);
    tx.store.get(object)?.delete(id);
    tx.deleted.get(object)?.add(id);
    logWrite(tx, "delete", object, existing, {});
    return { status: 204 };
  }

  /** One REST call below /services/data/vXX.X, inside a transaction. */
  function dispatch(
    tx: Transaction,
    method: string,
    version: string,
    rest: string,
    query: URLSearchParams,
    body: unknown,
  ): Answer {
    const parts = rest
      .split("/")
      .filter(Boolean)
      .map((part) => decodeURIComponent(part));
    if (parts[0] !== "sobjects" || parts.length < 3 || parts.length > 4)
      return errorAnswer(404, "NOT_FOUND", NOT_FOUND_MESSAGE);
    const object = parts[1] ?? "";
    if (!tx.store.has(object)) return errorAnswer(404, "NOT_FOUND", NOT_FOUND_MESSAGE);
    if (parts.length === 3 && parts[2] === "describe" && method === "GET") {
      // The part of the sObject Describe answer adapters read: each field's name and whether it is an External ID.
      const described = objects[object];
      const names = new Set(["Id", ...(described?.fields ?? []), ...(described?.externalIdFields ?? [])]);
      return {
        status: 200,
        body: {
          name: object,
          fields: [...names].map((name) => ({
            name,
            externalId: described?.externalIdFields.includes(name) === true,
          })),
        },
      };
    }
    if (parts.length === 4) {
      const field = parts[2] ?? "";
      const value = parts[3] ?? "";
      if (method === "PATCH")
        return upsert(tx, version, object, field, value, body, query.get("updateOnly") === "true");
      if (method === "GET") {
        if (!objects[object]?.externalIdFields.includes(field))
          return errorAnswer(
            404,
            "NOT_FOUND",
            `Provided external ID field does not exist or is not accessible: ${field}`,
          );
        const matches = [...(tx.store.get(object)?.values() ?? [])].filter(
          (record) => record[field] === value,
        );
        if (matches.length > 1)
          return {
            status: 300,
            body: matches.map(
              (record) => `/services/data/v${version}/sobjects/${object}/${String(record["Id"])}`,
            ),
          };
        const [match] = matches;
        return match === undefined
          ? errorAnswer(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
          : { status: 200, body: describeRecord(object, match, version) };
      }
      return errorAnswer(
        405,
        "METHOD_NOT_ALLOWED",
        `HTTP Method '${method}' not allowed. Allowed are GET,PATCH`,
      );
    }
    const id = parts[2] ?? "";
    if (method === "PATCH") return updateById(tx, object, id, body);
    if (method === "DELETE") return remove(tx, object, id);
    if (method === "GET") {
      const record = row(tx, object, id);
      if (record !== undefined) return { status: 200, body: describeRecord(object, record, version) };
      return tx.deleted.get(object)?.has(id)
        ? errorAnswer(404, "ENTITY_IS_DELETED", "entity is deleted")
        : errorAnswer(404, "NOT_FOUND", NOT_FOUND_MESSAGE);
    }
    return errorAnswer(
      405,
      "METHOD_NOT_ALLOWED",
      `HTTP Method '${method}' not allowed. Allowed are GET,PATCH,DELETE`,
    );
  }

  function begin(): Transaction {
    return {
      store: cloneStore(store),
      deleted: new Map([...deleted].map(([object, ids]) => [object, new Set(ids)])),
      writes: [],
    };
  }

  function commit(tx: Transaction): void {
    store = tx.store;
    deleted = tx.deleted;
    for (const write of tx.writes) writes.record(write);
  }

  /** `@{ref.field}` in URLs and string values, from the bodies of earlier subrequests. */
  function substitute(value: unknown, results: Map<string, unknown>, missing: string[]): unknown {
    if (typeof value === "string")
      return value.replace(/@\{([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\}/g, (whole, ref: string, field: string) => {
        const body = results.get(ref);
        const found = isObject(body) ? body[field] : undefined;
        if (typeof found !== "string" && typeof found !== "number") {
          missing.push(ref);
          return whole;
        }
        return String(found);
      });
    if (Array.isArray(value)) return value.map((item) => substitute(item, results, missing));
    if (isObject(value))
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, substitute(item, results, missing)]),
      );
    return value;
  }

  function composite(version: string, body: unknown): Answer {
    const subrequests = isObject(body) ? body["compositeRequest"] : undefined;
    if (!isObject(body) || !Array.isArray(subrequests) || subrequests.length === 0)
      return errorAnswer(400, "JSON_PARSER_ERROR", "compositeRequest is required");
    if (subrequests.length > MAX_COMPOSITE_SUBREQUESTS)
      return errorAnswer(
        400,
        "INVALID_INPUT",
        `Composite request can contain at most ${MAX_COMPOSITE_SUBREQUESTS} subrequests`,
      );
    const allOrNone = body["allOrNone"] === true;
    const tx = begin();
    const results = new Map<string, unknown>();
    const responses: {
      body: unknown;
      httpHeaders: Record<string, string>;
      httpStatusCode: number;
      referenceId: string;
    }[] = [];
    let failed = false;
    for (const raw of subrequests) {
      const sub = isObject(raw) ? raw : {};
      const referenceId = typeof sub["referenceId"] === "string" ? sub["referenceId"] : "";
      if (failed && allOrNone) {
        responses.push({
          body: salesforceErrors("PROCESSING_HALTED", PROCESSING_HALTED_MESSAGE),
          httpHeaders: {},
          httpStatusCode: 400,
          referenceId,
        });
        continue;
      }
      const missing: string[] = [];
      const url = String(substitute(sub["url"], results, missing));
      const subBody = substitute(sub["body"], results, missing);
      let answer: Answer;
      const parsed = new URL(url, "http://fake");
      const match = API_PATH.exec(parsed.pathname);
      if (missing.length > 0) {
        answer = errorAnswer(
          400,
          "PROCESSING_HALTED",
          `Invalid reference specified. No value for ${missing[0]}.id found in ${missing[0]}. Provided referenceId ensure you reference a valid referenceId.`,
        );
      } else if (match === null) {
        answer = errorAnswer(404, "NOT_FOUND", NOT_FOUND_MESSAGE);
      } else {
        answer = dispatch(
          tx,
          typeof sub["method"] === "string" ? sub["method"] : "GET",
          match[1] ?? version,
          match[2] ?? "",
          parsed.searchParams,
          subBody,
        );
      }
      if (answer.status >= 300) failed = true;
      else results.set(referenceId, answer.body);
      responses.push({
        body: answer.body ?? null,
        httpHeaders: answer.headers ?? {},
        httpStatusCode: answer.status,
        referenceId,
      });
    }
    if (failed && allOrNone) {
      // Rolled back: the answers of the subrequests that had succeeded no longer hold.
      for (const response of responses) {
        if (response.httpStatusCode < 300) {
          response.body = salesforceErrors("PROCESSING_HALTED", PROCESSING_HALTED_MESSAGE);
          response.httpHeaders = {};
          response.httpStatusCode = 400;
        }
      }
    } else {
      commit(tx);
    }
    return { status: 200, body: { compositeResponse: responses } };
  }

  /**
   * sObject Collections upsert: `PATCH /composite/sobjects/{object}/{field}` with
   * `{allOrNone, records}`, each record carrying its external id in the body. One API request
   * whatever the count; 200 with one save result per record, in order. With allOrNone false each
   * record stands alone; with true, one failure rolls every record back.
   */
  function collectionUpsert(version: string, object: string, field: string, body: unknown): Answer {
    const records = isObject(body) ? body["records"] : undefined;
    if (!isObject(body) || !Array.isArray(records) || records.length === 0)
      return errorAnswer(400, "JSON_PARSER_ERROR", "records is required");
    if (records.length > MAX_COLLECTION_RECORDS)
      return errorAnswer(
        400,
        "EXCEEDED_ID_LIMIT",
        `record limit reached. cannot submit more than ${MAX_COLLECTION_RECORDS} records into this call`,
      );
    if (!objects[object]?.externalIdFields.includes(field))
      return errorAnswer(
        404,
        "NOT_FOUND",
        `Provided external ID field does not exist or is not accessible: ${field}`,
      );
    const allOrNone = body["allOrNone"] === true;
    const tx = begin();
    const results = records.map((raw) => {
      const record = isObject(raw) ? raw : {};
      const { [field]: value, attributes, ...fields } = record;
      const type = isObject(attributes) ? attributes["type"] : undefined;
      const failed = (errorCode: string, message: string, errorFields: readonly string[] = []) => ({
        success: false,
        errors: [{ statusCode: errorCode, message, fields: errorFields }],
      });
      if (type !== object) return failed("INVALID_TYPE", `attributes.type must be ${object}`);
      if (typeof value !== "string" || value === "")
        return failed("MISSING_ARGUMENT", `${field} not specified`, [field]);
      const answer = upsert(tx, version, object, field, value, fields, false);
      if (answer.status === 300)
        return failed("DUPLICATE_EXTERNAL_ID", `${field}: more than one record found for external id field`, [
          field,
        ]);
      if (answer.status >= 300) {
        const [first] = Array.isArray(answer.body) ? (answer.body as SalesforceApiError[]) : [];
        return failed(
          first?.errorCode ?? "UNKNOWN_EXCEPTION",
          first?.message ?? "failed",
          first?.fields ?? [],
        );
      }
      const saved = isObject(answer.body) ? answer.body : {};
      return { id: saved["id"], success: true, errors: [], created: answer.status === 201 };
    });
    if (allOrNone && results.some((result) => !result.success)) {
      return {
        status: 200,
        body: results.map((result) =>
          result.success
            ? {
                success: false,
                errors: [
                  {
                    statusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    message:
                      "Record rolled back because not all records were valid and the request was using AllOrNone header",
                    fields: [],
                  },
                ],
              }
            : result,
        ),
      };
    }
    commit(tx);
    return { status: 200, body: results };
  }

  function api(request: FakeRequest, version: string, rest: string): Answer {
    const unauthenticated = authenticate(request);
    if (unauthenticated !== undefined) return unauthenticated;
    // The Limits resource answers (uncounted here) even when the allowance is spent, so it shows 0 remaining.
    if (rest === "/limits") {
      return request.method === "GET"
        ? {
            status: 200,
            body: {
              DailyApiRequests: { Max: limit.max, Remaining: Math.max(0, limit.max - limit.used) },
            },
          }
        : errorAnswer(
            405,
            "METHOD_NOT_ALLOWED",
            `HTTP Method '${request.method}' not allowed. Allowed are GET`,
          );
    }
    if (limit.used >= limit.max)
      return errorAnswer(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
    limit.used++;
    const collection = COLLECTION_UPSERT.exec(rest);
    if (collection !== null) {
      return request.method === "PATCH"
        ? collectionUpsert(
            version,
            decodeURIComponent(collection[1] ?? ""),
            decodeURIComponent(collection[2] ?? ""),
            request.body,
          )
        : errorAnswer(
            405,
            "METHOD_NOT_ALLOWED",
            `HTTP Method '${request.method}' not allowed. Allowed are PATCH`,
          );
    }
    if (rest === "/composite") {
      return request.method === "POST"
        ? composite(version, request.body)
        : errorAnswer(
            405,
            "METHOD_NOT_ALLOWED",
            `HTTP Method '${request.method}' not allowed. Allowed are POST`,
          );
    }
    const tx = begin();
    const answer = dispatch(tx, request.method, version, rest, request.query, request.body);
    if (answer.status < 300) commit(tx);
    return answer;
  }

  const server = await startFakeServer((request) => {
    if (request.path === "/services/oauth2/token") {
      return request.method === "POST"
        ? token(request)
        : { status: 405, body: { error: "invalid_request", error_description: "must use HTTP POST" } };
    }
    const match = API_PATH.exec(request.path);
    const answer =
      match === null
        ? errorAnswer(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
        : api(request, match[1] ?? "", match[2] ?? "");
    return {
      status: answer.status,
      ...(answer.body === undefined ? {} : { body: answer.body }),
      headers: { ...answer.headers, "Sforce-Limit-Info": `api-usage=${limit.used}/${limit.max}` },
    };
  });
  baseUrl = server.url;

  return {
    ...server,
    writes,
    records: (object = "Case") =>
      [...(store.get(object)?.values() ?? [])].map((record) => ({ ...record }) as FakeSalesforceRecord),
    seedRecord(object, fields) {
      const id = newId(object);
      const rows = store.get(object) ?? new Map<string, Record<string, unknown>>();
      rows.set(id, { Id: id, ...fields });
      store.set(object, rows);
      return id;
    },
    deleteRecord(object, id) {
      const tx = begin();
      remove(tx, object, id);
      commit(tx);
    },
    expireSessions: () => sessions.clear(),
    apiUsage: () => ({ ...limit }),
    setApiUsage(used) {
      limit.used = used;
    },
    tokensIssued: () => issued,
  };
}
