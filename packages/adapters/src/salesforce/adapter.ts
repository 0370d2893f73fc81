import type { LookupFunction } from "node:net";
import type { Resolved, SalesforceDestination } from "@handoff-sync/config";
import {
  AuthError,
  DestinationError,
  PermanentDeliveryError,
  QuotaExhaustedError,
  RetryableDeliveryError,
  type ApiUsage,
  type DeliveryError,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import { z } from "zod";
import type { Adapter, DeliveryRequest, DeliveryResult, PreviewRequest } from "../contract.js";
import {
  destinationHttpSettings,
  createDestinationHttp,
  USER_AGENT,
  type HttpResponse,
  type ProxySettings,
} from "../http/destination-http.js";
import { maskHeaders, MASK } from "../http/mask-headers.js";
import { responseExcerpt } from "../http/response-excerpt.js";
import { createSalesforceTokenCache } from "./auth.js";
import { createSalesforceBatching } from "./batch.js";
import { withUsage } from "../http/usage.js";
import {
  classifySalesforceResponse,
  parseSalesforceApiUsage,
  salesforceErrorCode,
  type SalesforceOperation,
  type SalesforceOutcome,
} from "./classify.js";
import {
  buildSalesforceWrite,
  salesforceApiPath,
  RECORD_REFERENCE,
  salesforceKeyProblem,
  type SalesforceWrite,
} from "./mapping.js";

export type SalesforceConfig = Resolved<SalesforceDestination>;

export interface SalesforceAdapterOptions {
  /** Injected in tests; defaults to the wall clock. */
  readonly nowMs?: () => number;
  /** Injected in tests; defaults to `dns.lookup`. */
  readonly lookup?: LookupFunction;
  /** From HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read by the service's config. */
  readonly proxy?: ProxySettings;
  /** Told the org's daily API usage each answer reports (Sforce-Limit-Info), for the request budget. */
  readonly onUsage?: (usage: ApiUsage) => void;
}

const SaveResultSchema = z.looseObject({ id: z.string().min(1) });
/** The part of the Limits resource (`GET /services/data/vXX.X/limits`) the check reads. */
const LimitsSchema = z.looseObject({
  DailyApiRequests: z.looseObject({ Max: z.number(), Remaining: z.number() }),
});

const DescribeSchema = z.looseObject({
  fields: z.array(z.looseObject({ name: z.string(), externalId: z.boolean().optional() })),
});
const CompositeResponseSchema = z.looseObject({
  compositeResponse: z.array(
    z.looseObject({ body: z.unknown(), httpStatusCode: z.number().int(), referenceId: z.string() }),
  ),
});

interface Attempted {
  readonly outcome: SalesforceOutcome;
  readonly status: number;
  readonly recordId?: string;
}

function savedId(body: unknown): string | undefined {
  const parsed = SaveResultSchema.safeParse(body);
  return parsed.success ? parsed.data.id : undefined;
}

/**
 * Salesforce REST: the handoff's record (a Case unless `object` says otherwise) is upserted by its
 * external id, or updated by the id the ledger holds; with `task`, a follow-up task is written in the
 * same composite call, all or none. One attempt per delivery, apart from one new session after
 * INVALID_SESSION_ID and, when the ledger's record was deleted, the write that recreates it.
 */
export function createSalesforceAdapter(
  name: string,
  config: SalesforceConfig,
  options: SalesforceAdapterOptions = {},
): Adapter {
  const now = options.nowMs ?? Date.now;
  const instanceUrl = config.instance_url.replace(/\/+$/, "");
  // One spare connection for token requests, which must not queue behind writes awaiting a token.
  const http = withUsage(
    createDestinationHttp(destinationHttpSettings(name, config, { ...options, extraConnections: 1 })),
    (headers) => {
      const usage = parseSalesforceApiUsage(headers);
      return usage === undefined ? undefined : { daily: usage };
    },
    options.onUsage,
  );

  const tokenUrl = `${instanceUrl}/services/oauth2/token`;
  const tokens = createSalesforceTokenCache({ http, tokenUrl, auth: config.auth, nowMs: now });
  const jsonHeaders = (token: string) => ({
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
    accept: "application/json",
  });

  function classify(
    status: number,
    body: unknown,
    headers: HttpResponse["headers"],
    operation: SalesforceOperation,
    excerpt: string,
  ): SalesforceOutcome {
    return classifySalesforceResponse(status, body, headers, {
      operation,
      object: config.object,
      nowMs: now(),
      ...(excerpt === "" ? {} : { responseExcerpt: excerpt }),
    });
  }

  /** Sends with the session and classifies; renews the session once per delivery when Salesforce says it expired. */
  async function send(
    method: "PATCH" | "POST",
    path: string,
    body: unknown,
    operation: SalesforceOperation,
    session: { renewed: boolean; readonly beforeWrite?: (() => Promise<void>) | undefined },
    signal: AbortSignal | undefined,
  ): Promise<{ response: HttpResponse; outcome: SalesforceOutcome }> {
    for (;;) {
      const token = await tokens.token();
      // Both methods write (an upsert, an update or a composite of them).
      await session.beforeWrite?.();
      const response = await http.send({
        method,
        url: `${instanceUrl}${path}`,
        headers: jsonHeaders(token),
        body: JSON.stringify(body),
        signal,
      });
      const outcome = classify(
        response.status,
        response.json(),
        response.headers,
        operation,
        response.excerpt(),
      );
      if (outcome !== "session_expired") return { response, outcome };
      tokens.invalidate(token);
      if (session.renewed)
        throw new AuthError("Salesforce rejected a freshly issued session (401 INVALID_SESSION_ID)", {
          status: 401,
          responseExcerpt: response.excerpt(),
          adminHint:
            "New sessions are refused at once: check the connected app's session policies (IP restrictions, high assurance) and that the integration user is active, then resume the queue.",
        });
      session.renewed = true;
    }
  }

  async function attempt(
    write: SalesforceWrite,
    recordId: string | undefined,
    session: { renewed: boolean; readonly beforeWrite?: (() => Promise<void>) | undefined },
    signal: AbortSignal | undefined,
  ): Promise<Attempted> {
    if (write.kind === "single") {
      const { response, outcome } = await send(
        write.request.method,
        write.request.url,
        write.request.body,
        write.operation,
        session,
        signal,
      );
      const id = savedId(response.json()) ?? recordId;
      return { outcome, status: response.status, ...(id === undefined ? {} : { recordId: id }) };
    }
    const { response, outcome: envelope } = await send(
      "POST",
      write.url,
      write.body,
      "composite",
      session,
      signal,
    );
    if (envelope !== "ok") return { outcome: envelope, status: response.status };
    const parsed = CompositeResponseSchema.safeParse(response.json());
    if (!parsed.success)
      return {
        outcome: new RetryableDeliveryError("Salesforce composite answer has no compositeResponse", {
          status: response.status,
        }),
        status: response.status,
      };
    const subresponses = parsed.data.compositeResponse;
    const record = subresponses.find((sub) => sub.referenceId === RECORD_REFERENCE);
    const failed = subresponses.filter((sub) => sub.httpStatusCode >= 300);
    if (record !== undefined && failed.length === 0) {
      const id = savedId(record.body) ?? recordId;
      return { outcome: "ok", status: record.httpStatusCode, ...(id === undefined ? {} : { recordId: id }) };
    }
    // With allOrNone the other subrequests only say PROCESSING_HALTED; the cause is the one that does not.
    const cause =
      failed.find((sub) => salesforceErrorCode(sub.body)?.errorCode !== "PROCESSING_HALTED") ?? failed[0];
    if (cause === undefined)
      return {
        outcome: new RetryableDeliveryError("Salesforce composite answer lacks the record's result", {
          status: response.status,
        }),
        status: response.status,
      };
    const operation = cause.referenceId === RECORD_REFERENCE ? write.operation : "upsert";
    const excerpt = responseExcerpt(Buffer.from(JSON.stringify(cause.body ?? null)));
    return {
      outcome: classify(cause.httpStatusCode, cause.body, response.headers, operation, excerpt),
      status: cause.httpStatusCode,
    };
  }

  function missingRecordError(recordId: string, status: number): DestinationError {
    return new DestinationError(
      `the ${config.object} ${recordId} this handoff was written to no longer exists in Salesforce`,
      {
        status,
        adminHint: `Restore ${config.object} ${recordId} from the Recycle Bin, or set on_missing_record: recreate to create it again; then resume the queue.`,
      },
    );
  }

  let addressableUntilMs = 0;
  /**
   * Whether the object and its External ID field (and the task's) exist, by sObject Describe; a
   * positive answer is kept a minute. Undefined when Salesforce does not say (an outage, a session).
   */
  async function addressable(signal: AbortSignal | undefined): Promise<boolean | undefined> {
    if (now() < addressableUntilMs) return true;
    const targets = [
      { object: config.object, field: config.external_id_field },
      ...(config.task === undefined
        ? []
        : [{ object: config.task.object, field: config.task.external_id_field }]),
    ];
    for (const { object, field } of targets) {
      const response = await http.send({
        method: "GET",
        url: `${instanceUrl}${salesforceApiPath(config.api_version, "sobjects", object, "describe")}`,
        headers: { authorization: `Bearer ${await tokens.token()}`, accept: "application/json" },
        signal,
      });
      if (response.status === 404) return false;
      const described = DescribeSchema.safeParse(response.json());
      if (response.status !== 200 || !described.success) return undefined;
      if (!described.data.fields.some((f) => f.name === field && f.externalId)) return false;
    }
    addressableUntilMs = now() + 60_000;
    return true;
  }

  /**
   * A 404 or 405 on a record's URL is destination-wide only when the object or field is missing:
   * with both there, it is this record's URL that Salesforce could not route (its key), and one
   * record must not park the destination.
   */
  async function judged(error: DeliveryError, signal: AbortSignal | undefined): Promise<DeliveryError> {
    if (!(error instanceof DestinationError) || (error.status !== 404 && error.status !== 405)) return error;
    if ((await addressable(signal).catch(() => undefined)) !== true) return error;
    return new PermanentDeliveryError(
      `Salesforce answered ${error.status} for this handoff's ${config.object} URL although ${config.object}.${config.external_id_field} exists: ${error.message}`,
      {
        status: error.status,
        ...(error.responseExcerpt === undefined ? {} : { responseExcerpt: error.responseExcerpt }),
        cause: error,
      },
    );
  }

  function failure(outcome: Exclude<SalesforceOutcome, "ok">, status: number): DeliveryError {
    if (outcome === "session_expired")
      return new AuthError("Salesforce session expired again after renewal", { status });
    if (outcome === "record_missing")
      return new PermanentDeliveryError("Salesforce record missing on create", { status });
    return outcome;
  }

  async function deliver({
    snapshot,
    destination,
    previous,
    signal,
    beforeWrite,
  }: DeliveryRequest): Promise<DeliveryResult> {
    checkKey(snapshot, config);
    const session = { renewed: false, beforeWrite };
    const known = previous?.recordId;
    let result = await attempt(
      buildSalesforceWrite(config, snapshot, destination, known),
      known,
      session,
      signal,
    );
    if (result.outcome === "record_missing" && known !== undefined) {
      if (config.on_missing_record === "park") throw missingRecordError(known, result.status);
      // Upsert by external id: if another attempt already recreated it, this finds that record.
      result = await attempt(buildSalesforceWrite(config, snapshot, destination), undefined, session, signal);
    }
    if (result.outcome !== "ok") throw await judged(failure(result.outcome, result.status), signal);
    return { status: result.status, ...(result.recordId === undefined ? {} : { recordId: result.recordId }) };
  }

  function preview({ snapshot, destination, previous }: DeliveryRequest): PreviewRequest[] {
    checkKey(snapshot, config);
    const write = buildSalesforceWrite(config, snapshot, destination, previous?.recordId);
    const grant =
      config.auth.method === "client_credentials"
        ? `grant_type=client_credentials&client_id=${encodeURIComponent(config.auth.client_id)}&client_secret=${MASK}`
        : `grant_type=${encodeURIComponent("urn:ietf:params:oauth:grant-type:jwt-bearer")}&assertion=${MASK}`;
    const headers = maskHeaders({ "user-agent": USER_AGENT, ...jsonHeaders("token") });
    const [method, url, body] =
      write.kind === "single"
        ? [write.request.method, write.request.url, write.request.body]
        : (["POST", write.url, write.body] as const);
    return [
      {
        method: "POST",
        url: tokenUrl,
        headers: {
          "user-agent": USER_AGENT,
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: grant,
        note: "only when no session is cached, or once after 401 INVALID_SESSION_ID",
      },
      {
        method,
        url: `${instanceUrl}${url}`,
        headers,
        body: JSON.stringify(body),
        note:
          write.kind === "composite"
            ? "record and task in one composite call, all or none"
            : write.operation === "update"
              ? `update the ledger's record; if it was deleted: ${config.on_missing_record === "park" ? "park the destination" : "upsert by external id to recreate it"}`
              : "upsert by external id",
      },
    ];
  }

  /**
   * Mints a session and reads the org's Limits resource: proves the host, the connected app and the
   * credentials, and that the org's daily API requests are not spent (the probe of a destination
   * parked for its quota resumes it only then).
   */
  async function check(): Promise<void> {
    const response = await http.send({
      method: "GET",
      url: `${instanceUrl}${salesforceApiPath(config.api_version, "limits")}`,
      headers: { authorization: `Bearer ${await tokens.token()}`, accept: "application/json" },
    });
    const outcome = classify(
      response.status,
      response.json(),
      response.headers,
      "upsert",
      response.excerpt(),
    );
    if (outcome === "session_expired")
      throw new AuthError("Salesforce refused a fresh session (401 INVALID_SESSION_ID)", { status: 401 });
    if (outcome === "record_missing")
      throw new DestinationError("Salesforce has no Limits resource at this API version (404)", {
        status: 404,
        adminHint: "Check instance_url and api_version.",
      });
    if (outcome !== "ok") throw outcome;
    const daily = LimitsSchema.safeParse(response.json());
    if (daily.success && daily.data.DailyApiRequests.Remaining <= 0)
      throw new QuotaExhaustedError(
        `Salesforce daily API requests spent (Limits: DailyApiRequests.Remaining ${daily.data.DailyApiRequests.Remaining} of ${daily.data.DailyApiRequests.Max})`,
        {
          adminHint:
            "The org has used its daily API request allowance (a rolling 24 hours); the destination resumes once requests are available again.",
        },
      );
  }

  const batch = createSalesforceBatching({
    config,
    http,
    tokens,
    instanceUrl,
    classify,
    previewOne: preview,
  });

  return {
    type: "salesforce",
    deliver,
    preview,
    check,
    batch,
    close: () => http.close(),
  };
}

// Record-level: this handoff's key is at fault, not the destination; other handoffs keep flowing.
function checkKey(snapshot: HandoffSnapshot, config: SalesforceConfig): void {
  const problem = salesforceKeyProblem(snapshot.key);
  if (problem !== undefined)
    throw new PermanentDeliveryError(
      `handoff key for ${config.object}.${config.external_id_field} ${problem}`,
    );
}
