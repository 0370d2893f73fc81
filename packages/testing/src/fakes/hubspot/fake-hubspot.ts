import {
  startFakeServer,
  WriteLog,
  type FakeRequest,
  type FakeResponse,
  type FakeServer,
} from "../fake-server.js";
import { hubSpotError, propertyProblem, propertyValuesMessage } from "./error-bodies.js";
import {
  DEFAULT_HUBSPOT_SCHEMAS,
  READ_ONLY_PROPERTIES,
  storedValue,
  valueProblems,
  type HubSpotObjectSchemas,
} from "./properties.js";
import { HubSpotRateLimiter, type HubSpotRateLimits } from "./rate-limit.js";
import { HubSpotTokenStore, type HubSpotOAuthApp } from "./token-store.js";

export interface HubSpotRecord {
  readonly id: string;
  readonly object: string;
  properties: Record<string, string | null>;
  readonly createdAt: string;
  updatedAt: string;
}

export interface HubSpotAssociation {
  readonly fromObject: string;
  readonly fromId: string;
  readonly toObject: string;
  readonly toId: string;
  readonly category: string;
  readonly typeId: number;
}

/** A per-input failure to report in a 207, as HubSpot lists them in `errors[]`. */
export interface HubSpotInputError {
  readonly category: string;
  readonly message: string;
}

export interface FakeHubSpotOptions {
  /** Static private app tokens; default one token, `pat-na1-fake`. */
  readonly privateAppTokens?: readonly string[];
  readonly oauth?: HubSpotOAuthApp;
  /** Granted scopes; all when omitted. */
  readonly scopes?: readonly string[];
  readonly schemas?: HubSpotObjectSchemas;
  /** Which property carries the handoff version, for the write log. */
  readonly versionProperty?: string;
  readonly rateLimits?: Partial<HubSpotRateLimits>;
  /** HubSpot does not document `Retry-After` on 429s; the fake sends it unless this is false. */
  readonly sendRetryAfter?: boolean;
  /** Contacts that exist in the portal, by record id. */
  readonly contacts?: readonly string[];
  /**
   * Every answer leaves this long after its request arrived (HubSpot's round trip as a client
   * sees it). The request is counted, applied and logged on arrival, so the write log's `at` is
   * when HubSpot received the write. Default 0.
   */
  readonly latencyMs?: number;
  readonly now?: () => number;
}

export interface FakeHubSpot extends FakeServer {
  readonly writes: WriteLog;
  readonly tokens: HubSpotTokenStore;
  /** Live records, optionally of one object type. */
  records(object?: string): readonly HubSpotRecord[];
  associations(): readonly HubSpotAssociation[];
  /** As an admin deleting the record in HubSpot would. */
  deleteRecord(object: string, id: string): boolean;
  addContact(id?: string): string;
  /** The next `times` upserts of the input with this `id` fail alone, in a 207. */
  rejectInput(id: string, error: HubSpotInputError, times?: number): void;
  /** From now on, each upsert input fails alone with this probability, in a 207 (partial batches). */
  rejectInputs(probability: number, error: HubSpotInputError, random?: () => number): void;
  /** 429s answered so far because a ten-secondly or daily limit was reached. */
  rateLimited(): number;
}

const OBJECT_TYPE_IDS: Readonly<Record<string, string>> = {
  contacts: "0-1",
  companies: "0-2",
  deals: "0-3",
  tickets: "0-5",
};

/** HUBSPOT_DEFINED association types the fake knows, by `from->to` (a subset of HubSpot's table). */
const DEFINED_ASSOCIATIONS: Readonly<Record<string, readonly number[]>> = {
  "tickets->contacts": [16],
  "contacts->tickets": [15],
  "deals->contacts": [3],
  "contacts->deals": [4],
  "companies->contacts": [280],
  "contacts->companies": [279],
};

const SCOPE_FOR_OBJECT: Readonly<Record<string, string>> = {
  tickets: "tickets",
  contacts: "crm.objects.contacts.write",
  deals: "crm.objects.deals.write",
  companies: "crm.objects.companies.write",
};

const UPSERT = /^\/crm\/v3\/objects\/([^/]+)\/batch\/upsert$/;
const OBJECT = /^\/crm\/v3\/objects\/([^/]+)$/;
const RECORD = /^\/crm\/v3\/objects\/([^/]+)\/([^/]+)$/;
const ASSOCIATE = /^\/crm\/v4\/objects\/([^/]+)\/([^/]+)\/associations\/([^/]+)\/([^/]+)$/;

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * HubSpot CRM v3 as far as handoff-sync uses it: batch upsert by a unique property (with `new` per
 * result and 207 partial failures), single create, read, update, archive, v4 associations, private app
 * and OAuth tokens that expire, the ten-secondly and daily request budgets with their headers, and
 * HubSpot's error bodies. There is no conditional write: an older version overwrites a newer one, as in
 * HubSpot, so the write log is the oracle for ordering tests.
 */
export async function startFakeHubSpot(options: FakeHubSpotOptions = {}): Promise<FakeHubSpot> {
  const now = options.now ?? Date.now;
  const schemas = options.schemas ?? DEFAULT_HUBSPOT_SCHEMAS;
  const versionProperty = options.versionProperty ?? "handoff_version";
  const writes = new WriteLog();
  const tokens = new HubSpotTokenStore(options.privateAppTokens ?? ["pat-na1-fake"], options.oauth, now);
  const limiter = new HubSpotRateLimiter(
    { tenSecondly: options.rateLimits?.tenSecondly ?? 190, daily: options.rateLimits?.daily ?? 1_000_000 },
    now,
    options.sendRetryAfter ?? true,
  );
  const store = new Map<string, HubSpotRecord>();
  const links: HubSpotAssociation[] = [];
  const rejections = new Map<string, { error: HubSpotInputError; times: number }>();
  let randomRejection: { probability: number; error: HubSpotInputError; random: () => number } | undefined;
  let nextId = 1_000;

  const storeKey = (object: string, id: string) => `${object}/${id}`;
  const iso = () => new Date(now()).toISOString();
  for (const id of options.contacts ?? []) addContact(id);

  function addContact(id = String(++nextId)): string {
    const at = iso();
    store.set(storeKey("contacts", id), {
      id,
      object: "contacts",
      properties: { hs_object_id: id },
      createdAt: at,
      updatedAt: at,
    });
    return id;
  }

  function present(record: HubSpotRecord) {
    return {
      id: record.id,
      properties: { ...record.properties },
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      archived: false,
    };
  }

  function findBy(object: string, property: string, value: string): HubSpotRecord | undefined {
    for (const record of store.values())
      if (record.object === object && record.properties[property] === value) return record;
    return undefined;
  }

  function versionOf(properties: Readonly<Record<string, string | null>>): number | undefined {
    const value = Number(properties[versionProperty]);
    return properties[versionProperty] === undefined || Number.isNaN(value) ? undefined : value;
  }

  function write(
    object: string,
    properties: Record<string, string | null>,
    existing: HubSpotRecord | undefined,
    externalId?: string,
  ): HubSpotRecord {
    const at = iso();
    let record: HubSpotRecord;
    if (existing === undefined) {
      const id = String(++nextId);
      record = {
        id,
        object,
        properties: { ...properties, hs_object_id: id, hs_createdate: at, hs_lastmodifieddate: at },
        createdAt: at,
        updatedAt: at,
      };
      store.set(storeKey(object, id), record);
    } else {
      record = existing;
      record.properties = { ...record.properties, ...properties, hs_lastmodifieddate: at };
      record.updatedAt = at;
    }
    const version = versionOf(properties);
    writes.record({
      operation: existing === undefined ? "create" : "update",
      object,
      recordId: record.id,
      ...(externalId === undefined ? {} : { externalId }),
      ...(version === undefined ? {} : { version }),
      fields: { ...properties },
    });
    return record;
  }

  /** Unknown properties fail the whole request, as HubSpot does before looking at any record. */
  function unknownProperties(
    object: string,
    propertySets: readonly Record<string, unknown>[],
  ): FakeResponse | undefined {
    const known = new Set((schemas[object] ?? []).map((d) => d.name));
    const problems = propertySets.flatMap((properties) =>
      Object.keys(properties)
        .filter((name) => !known.has(name) && !READ_ONLY_PROPERTIES.has(name))
        .map((name) => propertyProblem(name, "PROPERTY_DOESNT_EXIST", `Property "${name}" does not exist`)),
    );
    if (problems.length === 0) return undefined;
    return hubSpotError(400, "VALIDATION_ERROR", propertyValuesMessage(problems), {
      errors: problems.map((p) => ({
        message: p.message,
        code: p.error,
        context: { propertyName: [p.name] },
      })),
    });
  }

  function unknownObject(object: string): FakeResponse | undefined {
    return schemas[object] === undefined
      ? hubSpotError(400, "VALIDATION_ERROR", `Unable to infer object type from: ${object}`)
      : undefined;
  }

  function storedProperties(properties: Readonly<Record<string, unknown>>): Record<string, string | null> {
    return Object.fromEntries(Object.entries(properties).map(([name, value]) => [name, storedValue(value)]));
  }

  function upsert(object: string, body: unknown): FakeResponse {
    const startedAt = iso();
    const inputs = asRecord(body)?.["inputs"];
    if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 100) {
      return hubSpotError(400, "VALIDATION_ERROR", "inputs must hold between 1 and 100 objects");
    }
    const parsed = inputs.map((input) => {
      const fields = asRecord(input) ?? {};
      return {
        idProperty: fields["idProperty"],
        id: fields["id"],
        properties: asRecord(fields["properties"]) ?? {},
      };
    });
    for (const input of parsed) {
      if (typeof input.idProperty !== "string" || typeof input.id !== "string" || input.id === "") {
        return hubSpotError(400, "VALIDATION_ERROR", "Each input needs idProperty and id");
      }
      const definition = (schemas[object] ?? []).find((d) => d.name === input.idProperty);
      if (definition === undefined || definition.hasUniqueValue !== true) {
        return hubSpotError(
          400,
          "VALIDATION_ERROR",
          `Property ${input.idProperty} is not a unique-value property and cannot be used as idProperty`,
          {
            errors: [
              {
                message: "idProperty must have unique values",
                code: "INVALID_ID_PROPERTY",
                context: { idProperty: [input.idProperty] },
              },
            ],
          },
        );
      }
    }
    const unknown = unknownProperties(
      object,
      parsed.map((input) => input.properties),
    );
    if (unknown !== undefined) return unknown;

    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const input of parsed) {
      const id = input.id as string;
      const idProperty = input.idProperty as string;
      const named = rejections.get(id);
      const byName = named !== undefined && named.times > 0 ? named : undefined;
      if (byName !== undefined) byName.times--;
      const refused =
        byName?.error ??
        (randomRejection !== undefined && randomRejection.random() < randomRejection.probability
          ? randomRejection.error
          : undefined);
      if (refused !== undefined) {
        errors.push({
          status: "error",
          category: refused.category,
          message: refused.message,
          context: { ids: [id] },
        });
        continue;
      }
      const problems = valueProblems(schemas[object] ?? [], input.properties);
      if (problems.length > 0) {
        errors.push({
          status: "error",
          category: "VALIDATION_ERROR",
          message: propertyValuesMessage(problems),
          context: { ids: [id] },
        });
        continue;
      }
      const existing = findBy(object, idProperty, id);
      const record = write(object, { ...storedProperties(input.properties), [idProperty]: id }, existing, id);
      results.push({ ...present(record), new: existing === undefined });
    }
    const completed = { status: "COMPLETE", results, startedAt, completedAt: iso() };
    if (errors.length === 0) return { status: 200, body: completed };
    return { status: 207, body: { ...completed, numErrors: errors.length, errors } };
  }

  function associationTypeProblem(
    from: string,
    to: string,
    category: unknown,
    typeId: unknown,
  ): string | undefined {
    if (typeof typeId !== "number") return "associationTypeId must be a number";
    if (category !== "HUBSPOT_DEFINED") return undefined; // Labels the portal defined; the fake accepts any.
    const allowed = DEFINED_ASSOCIATIONS[`${from}->${to}`] ?? [];
    return allowed.includes(typeId)
      ? undefined
      : `${typeId} is not a valid HUBSPOT_DEFINED association type from ${from} to ${to}`;
  }

  function associate(from: string, fromId: string, to: string, toId: string, body: unknown): FakeResponse {
    const types = Array.isArray(body) ? body.map((t) => asRecord(t) ?? {}) : [];
    if (types.length === 0)
      return hubSpotError(400, "VALIDATION_ERROR", "Request body must be a list of association types");
    for (const type of types) {
      const problem = associationTypeProblem(
        from,
        to,
        type["associationCategory"],
        type["associationTypeId"],
      );
      if (problem !== undefined) return hubSpotError(400, "VALIDATION_ERROR", problem);
    }
    for (const [object, id] of [
      [from, fromId],
      [to, toId],
    ] as const) {
      if (!store.has(storeKey(object, id))) {
        return hubSpotError(404, "OBJECT_NOT_FOUND", `No ${object} with ID ${id} exist`, {
          context: { id: [id] },
        });
      }
    }
    for (const type of types) {
      const link = {
        fromObject: from,
        fromId,
        toObject: to,
        toId,
        category: String(type["associationCategory"]),
        typeId: Number(type["associationTypeId"]),
      };
      const exists = links.some((l) =>
        Object.entries(link).every(([k, v]) => l[k as keyof HubSpotAssociation] === v),
      );
      if (!exists) links.push(link);
    }
    return {
      status: 200,
      body: {
        fromObjectTypeId: OBJECT_TYPE_IDS[from] ?? from,
        fromObjectId: Number(fromId),
        toObjectTypeId: OBJECT_TYPE_IDS[to] ?? to,
        toObjectId: Number(toId),
        labels: [],
      },
    };
  }

  function notFound(id: string): FakeResponse {
    return hubSpotError(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.", {
      context: { id: [id] },
    });
  }

  function recordRoute(request: FakeRequest, object: string, id: string): FakeResponse {
    const idProperty = request.query.get("idProperty");
    const record = idProperty === null ? store.get(storeKey(object, id)) : findBy(object, idProperty, id);
    if (request.method === "GET")
      return record === undefined ? notFound(id) : { status: 200, body: present(record) };
    if (request.method === "DELETE") {
      if (record !== undefined) store.delete(storeKey(object, record.id));
      return { status: 204 };
    }
    if (request.method === "PATCH") {
      const properties = asRecord(asRecord(request.body)?.["properties"]) ?? {};
      const unknown = unknownProperties(object, [properties]);
      if (unknown !== undefined) return unknown;
      if (record === undefined) return notFound(id);
      const problems = valueProblems(schemas[object] ?? [], properties);
      if (problems.length > 0) return hubSpotError(400, "VALIDATION_ERROR", propertyValuesMessage(problems));
      const updated = write(
        object,
        storedProperties(properties),
        record,
        record.properties["handoff_key"] ?? undefined,
      );
      return { status: 200, body: present(updated) };
    }
    return hubSpotError(405, "VALIDATION_ERROR", `${request.method} is not supported here`);
  }

  function create(object: string, body: unknown): FakeResponse {
    const fields = asRecord(body) ?? {};
    const properties = asRecord(fields["properties"]) ?? {};
    const unknown = unknownProperties(object, [properties]);
    if (unknown !== undefined) return unknown;
    const problems = valueProblems(schemas[object] ?? [], properties);
    if (problems.length > 0) return hubSpotError(400, "VALIDATION_ERROR", propertyValuesMessage(problems));
    for (const definition of schemas[object] ?? []) {
      const value = storedValue(properties[definition.name]);
      if (
        definition.hasUniqueValue === true &&
        value !== null &&
        findBy(object, definition.name, value) !== undefined
      ) {
        return hubSpotError(
          409,
          "CONFLICT",
          `A ${object} record with ${definition.name}=${value} already exists`,
        );
      }
    }
    const associations = Array.isArray(fields["associations"])
      ? fields["associations"].map((a) => asRecord(a) ?? {})
      : [];
    const record = write(
      object,
      storedProperties(properties),
      undefined,
      storedValue(properties["handoff_key"]) ?? undefined,
    );
    for (const association of associations) {
      const to = asRecord(association["to"])?.["id"];
      const types = association["types"];
      if (typeof to === "string" || typeof to === "number") {
        // A missing contact leaves the record created without the link, as the write already happened.
        associate(object, record.id, "contacts", String(to), types);
      }
    }
    return { status: 201, body: present(record) };
  }

  function route(request: FakeRequest): FakeResponse {
    const upsertMatch = UPSERT.exec(request.path);
    if (upsertMatch !== null && request.method === "POST") {
      const object = upsertMatch[1] ?? "";
      return unknownObject(object) ?? upsert(object, request.body);
    }
    const associateMatch = ASSOCIATE.exec(request.path);
    if (associateMatch !== null && request.method === "PUT") {
      const [, from = "", fromId = "", to = "", toId = ""] = associateMatch;
      return unknownObject(from) ?? unknownObject(to) ?? associate(from, fromId, to, toId, request.body);
    }
    const objectMatch = OBJECT.exec(request.path);
    if (objectMatch !== null && request.method === "POST") {
      const object = objectMatch[1] ?? "";
      return unknownObject(object) ?? create(object, request.body);
    }
    const recordMatch = RECORD.exec(request.path);
    if (recordMatch !== null) {
      const [, object = "", id = ""] = recordMatch;
      return unknownObject(object) ?? recordRoute(request, object, id);
    }
    return hubSpotError(404, "OBJECT_NOT_FOUND", `No route for ${request.method} ${request.path}`);
  }

  function missingScope(path: string): FakeResponse | undefined {
    if (options.scopes === undefined) return undefined;
    const object = /^\/crm\/v[34]\/objects\/([^/]+)/.exec(path)?.[1] ?? "";
    const needed = SCOPE_FOR_OBJECT[object] ?? "crm.objects.custom.write";
    if (options.scopes.includes(needed)) return undefined;
    return hubSpotError(
      403,
      "MISSING_SCOPES",
      "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
      {
        errors: [
          {
            message: "One or more of the following scopes are required.",
            context: { requiredGranularScopes: [needed] },
          },
        ],
      },
    );
  }

  function answer(request: FakeRequest): FakeResponse {
    if (request.path === "/oauth/v1/token" && request.method === "POST") return tokens.refresh(request.body);
    const denied = tokens.check(request.headers.authorization) ?? missingScope(request.path);
    if (denied !== undefined) return denied;
    const limited = limiter.take();
    if (limited !== undefined) return limited;
    const response = route(request);
    return { ...response, headers: { ...limiter.headers(), ...response.headers } };
  }

  const latencyMs = options.latencyMs ?? 0;
  const handle = async (request: FakeRequest): Promise<FakeResponse> => {
    const response = answer(request);
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    return response;
  };

  const server = await startFakeServer(handle);
  return {
    ...server,
    writes,
    tokens,
    records: (object) =>
      [...store.values()]
        .filter((r) => object === undefined || r.object === object)
        .map((r) => ({ ...r, properties: { ...r.properties } })),
    associations: () => [...links],
    deleteRecord: (object, id) => store.delete(storeKey(object, id)),
    addContact,
    rejectInput: (id, error, times = 1) => {
      rejections.set(id, { error, times });
    },
    rejectInputs: (probability, error, random = Math.random) => {
      randomRejection = { probability, error, random };
    },
    rateLimited: () => limiter.refused(),
  };
}
