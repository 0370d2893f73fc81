import type { LookupFunction } from "node:net";
import type { Resolved, ServiceNowDestination } from "@handoff-sync/config";
import { DestinationError, PermanentDeliveryError, RetryableDeliveryError } from "@handoff-sync/schema";
import { z } from "zod";
import type { Adapter, DeliveryRequest, DeliveryResult, PreviewRequest } from "../contract.js";
import {
  createDestinationHttp,
  destinationHttpSettings,
  USER_AGENT,
  type HttpResponse,
  type ProxySettings,
} from "../http/destination-http.js";
import { maskHeaders } from "../http/mask-headers.js";
import { applyMapping } from "../mapping/evaluate.js";
import { mappingView } from "../mapping/view.js";
import { createServiceNowAuthorizer } from "./auth.js";
import { classifyServiceNowResponse, type ServiceNowTarget } from "./classify.js";
import { KeyedLock } from "./key-lock.js";
import {
  buildServiceNowBody,
  SERVICENOW_DEFAULT_MAPPING,
  serviceNowCorrelationId,
  serviceNowLookupQuery,
} from "./mapping.js";

export type ServiceNowConfig = Resolved<ServiceNowDestination>;

export interface ServiceNowAdapterOptions {
  /** Injected in tests; defaults to the wall clock. */
  readonly nowMs?: () => number;
  /** Injected in tests; defaults to `dns.lookup`. */
  readonly lookup?: LookupFunction;
  /** From HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read by the service's config. */
  readonly proxy?: ProxySettings;
  /** Serialises deliveries per record; defaults to one lock shared by every ServiceNow adapter in the process. */
  readonly lock?: KeyedLock;
}

// Shared so that the adapter a config reload builds still waits for its predecessor's writes.
const processLock = new KeyedLock();

const RecordSchema = z.looseObject({ sys_id: z.string().min(1) });
const LookupSchema = z.looseObject({ result: z.array(RecordSchema) });
const WrittenSchema = z.looseObject({ result: RecordSchema });
type ServiceNowRecord = z.infer<typeof RecordSchema>;

interface Answer {
  readonly kind: "ok" | "record_missing";
  readonly response: HttpResponse;
}

/**
 * ServiceNow Table API. It has no upsert and no idempotency header, so every delivery without a
 * ledger record id looks the record up by `correlation_id` (the handoff key) and then updates or
 * creates it, serialised per key so two deliveries of one handoff in this process never both create.
 * Across processes the queue runs at most one delivery per handoff and destination at a time, and
 * `beforeWrite` stops one whose worker stalled past its queue lock before it writes.
 */
export function createServiceNowAdapter(
  name: string,
  config: ServiceNowConfig,
  options: ServiceNowAdapterOptions = {},
): Adapter {
  const now = options.nowMs ?? Date.now;
  const lock = options.lock ?? processLock;
  const instanceUrl = new URL(config.instance_url).origin;
  const http = createDestinationHttp(destinationHttpSettings(name, config, options));
  const auth = createServiceNowAuthorizer(config.auth, {
    http,
    instanceUrl,
    table: config.table,
    nowMs: now,
  });
  const mapping = config.mapping ?? SERVICENOW_DEFAULT_MAPPING;
  const versionField = config.version_field;
  // Only what the adapter reads comes back: smaller answers, and no personal data in memory.
  const fields = ["sys_id", "number", "correlation_id", versionField].join(",");
  const tablePath = `/api/now/table/${config.table}`;

  function tableUrl(params: Record<string, string> = {}): URL {
    const url = new URL(tablePath, instanceUrl);
    for (const [key, value] of Object.entries({ ...params, sysparm_fields: fields }))
      url.searchParams.set(key, value);
    return url;
  }

  function recordUrl(sysId: string): URL {
    const url = new URL(`${tablePath}/${encodeURIComponent(sysId)}`, instanceUrl);
    url.searchParams.set("sysparm_fields", fields);
    return url;
  }

  /** Requests of one delivery: they share its single token renewal. */
  function session(signal: AbortSignal | undefined, beforeWrite?: () => Promise<void>) {
    let renewed = false;
    return async function call(
      method: "GET" | "POST" | "PATCH",
      url: URL,
      target: ServiceNowTarget,
      body?: string,
    ): Promise<Answer> {
      for (;;) {
        const authorization = await auth.authorization(signal);
        // After the token, so the check is as close to the write as it can be.
        if (method !== "GET") await beforeWrite?.();
        const response = await http.send({
          method,
          url,
          headers: {
            authorization,
            accept: "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body }),
          signal,
        });
        const failedStatus = response.status < 200 || response.status >= 300;
        const outcome = classifyServiceNowResponse(
          {
            status: response.status,
            headers: response.headers,
            body: response.json(),
            ...(failedStatus ? { excerpt: response.excerpt() } : {}),
          },
          { target, table: config.table, auth: auth.method, renewed, nowMs: now() },
        );
        if (outcome.kind === "renew_token") {
          renewed = true;
          auth.invalidate(authorization);
          continue;
        }
        if (outcome.kind === "failed") throw outcome.error;
        return { kind: outcome.kind, response };
      }
    };
  }

  function missingVersionField(response: HttpResponse): DestinationError {
    return new DestinationError(`ServiceNow table ${config.table} has no field ${versionField}`, {
      status: response.status,
      adminHint: `Create an Integer column ${versionField} on ${config.table} (ServiceNow silently drops fields a table lacks, so the version guard cannot work without it), or set version_field to the column you created, then resume the destination's queue.`,
    });
  }

  function versionOf(record: ServiceNowRecord, response: HttpResponse): number {
    const value = record[versionField];
    if (value === undefined) throw missingVersionField(response);
    const version = Number(value);
    return Number.isFinite(version) ? version : 0;
  }

  function written(response: HttpResponse): DeliveryResult {
    const parsed = WrittenSchema.safeParse(response.json());
    if (!parsed.success) {
      throw new RetryableDeliveryError(
        `ServiceNow answered ${response.status} without the written record's sys_id`,
        {
          status: response.status,
          responseExcerpt: response.excerpt(),
        },
      );
    }
    versionOf(parsed.data.result, response);
    return { recordId: parsed.data.result.sys_id, status: response.status };
  }

  function found(response: HttpResponse, correlationId: string): ServiceNowRecord | undefined {
    const parsed = LookupSchema.safeParse(response.json());
    if (!parsed.success) {
      throw new RetryableDeliveryError(
        `ServiceNow lookup in ${config.table} answered ${response.status} without a result list`,
        {
          status: response.status,
          responseExcerpt: response.excerpt(),
        },
      );
    }
    const [record] = parsed.data.result;
    if (record === undefined) return undefined;
    const stored = record["correlation_id"];
    if (stored === correlationId) return record;
    // ServiceNow drops query terms on fields a table lacks and then returns any record; and `=`
    // ignores letter case. Either way the record is not ours, and writing to it would corrupt it.
    if (typeof stored === "string" && stored.toLowerCase() === correlationId.toLowerCase()) {
      throw new PermanentDeliveryError(
        `ServiceNow record ${record.sys_id} has correlation_id "${stored}", which differs from this handoff's "${correlationId}" only in letter case; refusing to share it`,
        { status: response.status },
      );
    }
    throw new DestinationError(
      `ServiceNow lookup by correlation_id in ${config.table} returned an unrelated record`,
      {
        status: response.status,
        adminHint: `Use a table with a correlation_id field (every task table has one, e.g. incident or interaction) that the integration user can read, then resume the destination's queue.`,
      },
    );
  }

  async function write(
    request: DeliveryRequest,
    correlationId: string,
    body: string,
  ): Promise<DeliveryResult> {
    const call = session(request.signal, request.beforeWrite);
    const recordId = request.previous?.recordId;

    if (recordId !== undefined) {
      const updated = await call("PATCH", recordUrl(recordId), "record", body);
      if (updated.kind === "ok") return written(updated.response);
      if (config.on_missing_record === "park") {
        throw new DestinationError(
          `ServiceNow record ${recordId} in ${config.table} was deleted (404 on update)`,
          {
            status: updated.response.status,
            responseExcerpt: updated.response.excerpt(),
            adminHint: `Restore the record (System Definition > Deleted Records) or set on_missing_record: recreate, then resume the destination's queue.`,
          },
        );
      }
      // Recreate through the lookup: a recreate whose answer was lost must not create a second record.
    }

    const lookup = await call(
      "GET",
      tableUrl({ sysparm_query: serviceNowLookupQuery(correlationId), sysparm_limit: "1" }),
      "table",
    );
    const existing = found(lookup.response, correlationId);
    if (existing === undefined) {
      const created = await call("POST", tableUrl(), "table", body);
      return written(created.response);
    }
    // The Table API has no conditional write; this read-then-check is its stand-in. An equal
    // version means an earlier attempt of this very version committed, so writing again would only
    // repeat the work note.
    if (versionOf(existing, lookup.response) >= request.snapshot.version) {
      return { recordId: existing.sys_id, status: lookup.response.status };
    }
    const updated = await call("PATCH", recordUrl(existing.sys_id), "record", body);
    if (updated.kind === "record_missing") {
      throw new RetryableDeliveryError(
        `ServiceNow record ${existing.sys_id} in ${config.table} disappeared between lookup and update`,
        { status: updated.response.status, responseExcerpt: updated.response.excerpt() },
      );
    }
    return written(updated.response);
  }

  function bodyOf({ snapshot, destination }: DeliveryRequest): { correlationId: string; body: string } {
    const correlationId = serviceNowCorrelationId(snapshot.key);
    const body = JSON.stringify(
      buildServiceNowBody(applyMapping(mapping, mappingView(snapshot, destination)), {
        correlationId,
        version: snapshot.version,
        versionField,
      }),
    );
    return { correlationId, body };
  }

  async function deliver(request: DeliveryRequest): Promise<DeliveryResult> {
    const { correlationId, body } = bodyOf(request);
    return lock.run(`${instanceUrl} ${config.table} ${correlationId}`, () =>
      write(request, correlationId, body),
    );
  }

  /** What `write` sends, without a token or a lookup answer: the paths it can take, in order. */
  function preview(request: DeliveryRequest): PreviewRequest[] {
    const { correlationId, body } = bodyOf(request);
    const headers = (withBody: boolean) =>
      maskHeaders({
        "user-agent": USER_AGENT,
        authorization: auth.method === "basic" ? "Basic ****" : "Bearer ****",
        accept: "application/json",
        ...(withBody ? { "content-type": "application/json" } : {}),
      });
    const recordId = request.previous?.recordId;
    if (recordId !== undefined) {
      return [
        {
          method: "PATCH",
          url: recordUrl(recordId).href,
          headers: headers(true),
          body,
          note: "update the record the ledger names",
        },
      ];
    }
    return [
      {
        method: "GET",
        url: tableUrl({ sysparm_query: serviceNowLookupQuery(correlationId), sysparm_limit: "1" }).href,
        headers: headers(false),
        note: "look the record up by correlation_id",
      },
      {
        method: "POST",
        url: tableUrl().href,
        headers: headers(true),
        body,
        note: "create it when the lookup finds none (else PATCH the record found with this body)",
      },
    ];
  }

  /**
   * Authenticates (fetching a token for OAuth) and reads one record of the table: proves the
   * credentials, the table name and the integration user's read access, writing nothing.
   */
  async function check(): Promise<void> {
    await session(undefined)("GET", tableUrl({ sysparm_limit: "1" }), "table");
  }

  return {
    type: "servicenow",
    // Looks the record up before creating it, and after a 404 on an update by the ledger's id.
    readsBeforeWriting: true,
    deliver,
    preview,
    check,
    close: () => http.close(),
  };
}
