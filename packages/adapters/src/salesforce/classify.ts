import {
  AuthError,
  DestinationError,
  PermanentDeliveryError,
  QuotaExhaustedError,
  RetryableDeliveryError,
  type DeliveryError,
} from "@handoff-sync/schema";
import { z } from "zod";
import { headerValue, type HeaderBag } from "../http/headers.js";
import { parseRetryAfter } from "../http/retry-after.js";

/**
 * What a Salesforce answer means for one delivery. `session_expired` asks the caller to mint a new
 * token and send again (once); `record_missing` says the ledger's record is gone, which the
 * destination's `on_missing_record` decides.
 */
export type SalesforceOutcome = "ok" | "session_expired" | "record_missing" | DeliveryError;

/**
 * `token`: the OAuth token endpoint; `upsert`: a write by external id (creates when nothing matches);
 * `update`: a write to the record id the ledger holds (404 there means the record was deleted);
 * `composite`: the envelope of a composite call, whose subrequests are classified on their own.
 */
export type SalesforceOperation = "token" | "upsert" | "update" | "composite";

export interface SalesforceClassifyContext {
  readonly operation: SalesforceOperation;
  /** The sObject written, for messages. */
  readonly object?: string;
  /** Already redacted and truncated. */
  readonly responseExcerpt?: string;
  readonly nowMs?: number;
}

const ApiErrorsSchema = z.array(
  z.looseObject({
    errorCode: z.string(),
    message: z.string().optional(),
    fields: z.array(z.string()).optional(),
  }),
);
const OAuthErrorSchema = z.looseObject({ error: z.string(), error_description: z.string().optional() });

export interface SalesforceApiErrorCode {
  readonly errorCode: string;
  readonly fields: readonly string[];
}

/** The first entry of Salesforce's error array; message text is left out (it may quote record data). */
export function salesforceErrorCode(body: unknown): SalesforceApiErrorCode | undefined {
  const parsed = ApiErrorsSchema.safeParse(body);
  const first = parsed.success ? parsed.data[0] : undefined;
  return first === undefined ? undefined : { errorCode: first.errorCode, fields: first.fields ?? [] };
}

/** `Sforce-Limit-Info: api-usage=18/5000`. */
export function parseSalesforceApiUsage(headers: HeaderBag): { used: number; max: number } | undefined {
  const match = /api-usage=(\d+)\/(\d+)/.exec(headerValue(headers, "sforce-limit-info") ?? "");
  return match === null ? undefined : { used: Number(match[1]), max: Number(match[2]) };
}

/**
 * Errors about the org's shape rather than one record's data: an unknown or unwritable field, an
 * unknown object, the API switched off. Every record would fail alike, so they park the destination.
 */
const DESTINATION_WIDE_CODES = new Set([
  "INVALID_FIELD",
  "INVALID_FIELD_FOR_INSERT_UPDATE",
  "INVALID_TYPE",
  "NOT_FOUND",
  "API_DISABLED_FOR_ORG",
  "API_CURRENTLY_DISABLED",
]);
const RETRYABLE_4XX = new Set([408, 409, 423, 425, 429]);

function tokenHint(error: string | undefined): string {
  switch (error) {
    case "invalid_client_id":
    case "invalid_client":
      return "Salesforce does not recognise the connected app's client_id or client_secret: check auth.client_id and the secret reference, then resume the queue.";
    case "invalid_grant":
      return "Salesforce refused the grant: for jwt_bearer check that auth.private_key matches the certificate uploaded to the connected app, that auth.username is pre-authorised (Permitted Users: admin approved users are pre-authorized, with the user's profile or permission set added), that auth.audience is the login host, and that this machine's clock is right; for client_credentials check the connected app's Run As user. Then resume the queue.";
    case "unsupported_grant_type":
      return "The connected app does not allow this flow: enable Client Credentials Flow (with a Run As user) or use JWT bearer, then resume the queue.";
    default:
      return "Check the connected app and the destination's auth settings, then resume the queue.";
  }
}

function retryable(
  message: string,
  status: number,
  headers: HeaderBag,
  base: object,
  nowMs: number,
): RetryableDeliveryError {
  const retryAfterMs = parseRetryAfter(headerValue(headers, "retry-after"), nowMs);
  return new RetryableDeliveryError(message, {
    ...base,
    status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/**
 * The single place that maps a Salesforce response (status, parsed JSON body, headers) to an outcome;
 * docs/adapters/salesforce.md has the table. Composite subresponses go through here too, with the
 * subrequest's own operation.
 */
export function classifySalesforceResponse(
  status: number,
  body: unknown,
  headers: HeaderBag,
  context: SalesforceClassifyContext,
): SalesforceOutcome {
  if (status >= 200 && status < 300) return "ok";
  const nowMs = context.nowMs ?? Date.now();
  const base = context.responseExcerpt === undefined ? {} : { responseExcerpt: context.responseExcerpt };
  const object = context.object ?? "record";

  if (context.operation === "token") {
    if (status === 408 || status === 429 || (status >= 500 && status !== 501))
      return retryable(`Salesforce token endpoint answered ${status}`, status, headers, base, nowMs);
    if (status === 404)
      return new DestinationError("Salesforce token endpoint not found (404)", {
        ...base,
        status,
        adminHint:
          "instance_url must be the org's My Domain URL (https://<domain>.my.salesforce.com); fix it, then resume the queue.",
      });
    const oauth = OAuthErrorSchema.safeParse(body);
    const error = oauth.success ? oauth.data.error : undefined;
    return new AuthError(
      `Salesforce refused the token request (${status}${error === undefined ? "" : ` ${error}`})`,
      {
        ...base,
        status,
        adminHint: tokenHint(error),
      },
    );
  }

  const code = salesforceErrorCode(body);
  const errorCode = code?.errorCode;
  const detail = `${status}${errorCode === undefined ? "" : ` ${errorCode}`}${code !== undefined && code.fields.length > 0 ? ` on ${code.fields.join(", ")}` : ""}`;

  if (status === 300) {
    const matches = Array.isArray(body) ? body.length : undefined;
    return new PermanentDeliveryError(
      `several ${object} records (${matches ?? "more than one"}) share this handoff's external id (300); merge or delete the duplicates and make the field Unique, then replay`,
      { ...base, status },
    );
  }
  if (
    context.operation === "update" &&
    (errorCode === "ENTITY_IS_DELETED" || (status === 404 && errorCode === "NOT_FOUND"))
  )
    return "record_missing";
  if (status === 401) {
    if (errorCode === "INVALID_SESSION_ID") return "session_expired";
    return new AuthError(`Salesforce refused the session (${detail})`, { ...base, status });
  }
  if (status === 403) {
    if (errorCode === "REQUEST_LIMIT_EXCEEDED") {
      const usage = parseSalesforceApiUsage(headers);
      // Salesforce uses the same code for the concurrent long-request limit; only a spent daily
      // allowance (usage at or past the maximum, or no usage reported) is worth parking for.
      if (usage !== undefined && usage.used < usage.max)
        return retryable(`Salesforce concurrency limit reached (${detail})`, status, headers, base, nowMs);
      return new QuotaExhaustedError(
        `Salesforce daily API request limit exceeded (${detail}${usage === undefined ? "" : `, api-usage ${usage.used}/${usage.max}`})`,
        {
          ...base,
          status,
          adminHint:
            "The org has used its daily API request allowance (a rolling 24 hours, shared with every integration): wait for usage to fall (Setup > Company Information > API Requests, Last 24 Hours), or buy more, then resume the queue.",
        },
      );
    }
    return new AuthError(`Salesforce forbids the request (${detail})`, {
      ...base,
      status,
      adminHint: `Give the integration user API Enabled and create/edit access to ${object} and the mapped fields (profile or permission set), then resume the queue.`,
    });
  }
  if (
    status === 404 ||
    status === 405 ||
    (status === 400 && errorCode !== undefined && DESTINATION_WIDE_CODES.has(errorCode))
  ) {
    return new DestinationError(`Salesforce does not know this object or field (${detail})`, {
      ...base,
      status,
      adminHint: `Check that ${object} exists, that external_id_field (and the task's) is an External ID field on it, that every mapped field exists and is editable by the integration user, and that api_version is supported; then resume the queue.`,
    });
  }
  if (errorCode === "UNABLE_TO_LOCK_ROW")
    return retryable(`Salesforce record locked (${detail})`, status, headers, base, nowMs);
  if (RETRYABLE_4XX.has(status) || (status >= 500 && status !== 501) || status < 200)
    return retryable(`Salesforce answered ${detail}`, status, headers, base, nowMs);
  return new PermanentDeliveryError(`Salesforce refused the ${object} (${detail})`, { ...base, status });
}
