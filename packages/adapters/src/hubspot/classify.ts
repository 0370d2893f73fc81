import {
  AuthError,
  DestinationError,
  PermanentDeliveryError,
  QuotaExhaustedError,
  RetryableDeliveryError,
  type DeliveryError,
} from "@handoff-sync/schema";
import { headerValue, type HeaderBag } from "../http/headers.js";
import { parseRetryAfter } from "../http/retry-after.js";
import {
  errorFor,
  parseBatchResponse,
  parseErrorBody,
  resultFor,
  type HubSpotBatchResponse,
  type HubSpotErrorBody,
  type HubSpotErrorEntry,
} from "./response.js";

/** Which call answered: the same status means different things on each. */
export type HubSpotOperation = "upsert" | "update" | "associate" | "token";

export interface HubSpotResponseView {
  readonly status: number;
  readonly headers: HeaderBag;
  /** Parsed JSON body, or undefined. */
  readonly body: unknown;
  /**
   * The body already read as a batch answer, when the caller has it: a batch's inputs are each
   * classified against one answer of up to 100 results, which is then read once, not once per input.
   */
  readonly batch?: HubSpotBatchResponse;
  /** Already redacted and truncated. */
  readonly responseExcerpt?: string;
}

export interface HubSpotClassifyContext {
  readonly operation: HubSpotOperation;
  readonly nowMs: number;
  /** True while an OAuth token may still be renewed in this attempt; private app tokens never can. */
  readonly canRenewToken: boolean;
  /**
   * The upsert input we sent, to find its result or its error in a 207. `alone` false: it was one
   * of a batch, so only an entry naming its id is its own.
   */
  readonly input?: { readonly idProperty: string; readonly id: string; readonly alone?: boolean };
}

/**
 * `renew_token`: mint a new OAuth token and send again, once. `record_missing`: the record the ledger
 * names is gone (an update answered 404); `on_missing_record` decides.
 */
export type HubSpotOutcome = "ok" | "renew_token" | "record_missing" | DeliveryError;

/** HubSpot's own retry policy for a ten-secondly 429 without Retry-After (hubspot-api-nodejs RetryDecorator). */
export const TEN_SECONDLY_BACKOFF_MS = 10_000;

const DAY_MS = 86_400_000;

/** The daily budget resets at midnight in the account's time zone; we wait for the next UTC midnight. */
export function msUntilNextUtcMidnight(nowMs: number): number {
  return (Math.floor(nowMs / DAY_MS) + 1) * DAY_MS - nowMs;
}

function mentionsUnknownProperty(error: HubSpotErrorBody | HubSpotErrorEntry): boolean {
  const entries: readonly HubSpotErrorEntry[] =
    "errors" in error && Array.isArray(error.errors) ? error.errors : [];
  return (
    entries.some((entry) => entry.code === "PROPERTY_DOESNT_EXIST") ||
    // HubSpot embeds the per-property codes as JSON text inside the message.
    (error.message?.includes("PROPERTY_DOESNT_EXIST") ?? false)
  );
}

function describe(error: HubSpotErrorBody | HubSpotErrorEntry): string {
  return [error.category, error.message].filter((part) => part !== undefined && part !== "").join(": ");
}

const UNKNOWN_PROPERTY_HINT =
  "A mapped property does not exist on this HubSpot object: create it (Settings > Properties) or fix the destination's mapping, then resume the queue.";

/** One failed input of a 207, judged by its category. */
function inputFailure(
  entry: HubSpotErrorEntry,
  base: { status: number; responseExcerpt?: string },
): DeliveryError {
  const what = `HubSpot refused the record (${describe(entry)})`;
  if (mentionsUnknownProperty(entry))
    return new DestinationError(what, { ...base, adminHint: UNKNOWN_PROPERTY_HINT });
  switch (entry.category) {
    case "VALIDATION_ERROR":
    case "OBJECT_NOT_FOUND":
    case "INVALID_EMAIL":
      return new PermanentDeliveryError(what, base);
    case "MISSING_SCOPES":
      return new AuthError(what, {
        ...base,
        adminHint: "Grant the app the scopes it needs to write this object, then resume the queue.",
      });
    default:
      // CONFLICT (a concurrent write of the same unique value), RATE_LIMITS and anything new may pass later.
      return new RetryableDeliveryError(what, base);
  }
}

function rateLimited(
  body: HubSpotErrorBody,
  view: HubSpotResponseView,
  base: { status: number; responseExcerpt?: string },
  nowMs: number,
): DeliveryError {
  if (body.policyName === "DAILY") {
    return new QuotaExhaustedError("HubSpot daily API limit reached (429 DAILY)", {
      ...base,
      retryAfterMs: msUntilNextUtcMidnight(nowMs),
      adminHint:
        "The HubSpot account has used its daily API calls. The queue can resume after the daily reset (midnight in the account's time zone), or sooner after raising the limit with an API add-on.",
    });
  }
  const retryAfterMs =
    parseRetryAfter(headerValue(view.headers, "retry-after"), nowMs) ?? TEN_SECONDLY_BACKOFF_MS;
  return new RetryableDeliveryError(`HubSpot rate limit (429 ${body.policyName ?? "unknown policy"})`, {
    ...base,
    retryAfterMs,
  });
}

/** The single place that maps a HubSpot answer to an outcome (docs/adapters/hubspot.md has the table). */
export function classifyHubSpotResponse(
  view: HubSpotResponseView,
  context: HubSpotClassifyContext,
): HubSpotOutcome {
  const { status } = view;
  const base = {
    status,
    ...(view.responseExcerpt === undefined ? {} : { responseExcerpt: view.responseExcerpt }),
  };
  const { operation } = context;

  if (status >= 200 && status < 300) {
    if (operation !== "upsert" || context.input === undefined) return "ok";
    const batch = view.batch ?? parseBatchResponse(view.body);
    if (batch === undefined)
      return new RetryableDeliveryError(`HubSpot answered ${status} with an unreadable batch body`, base);
    const alone = context.input.alone ?? true;
    if (resultFor(batch, context.input.idProperty, context.input.id, alone) !== undefined) return "ok";
    const entry = errorFor(batch, context.input.id, alone);
    if (entry === undefined)
      return new RetryableDeliveryError(`HubSpot answered ${status} without a result for the record`, base);
    return inputFailure(entry, base);
  }

  const body = parseErrorBody(view.body);
  const detail = describe(body);
  const said = detail === "" ? `${status}` : `${status} ${detail}`;

  if (operation === "token") {
    if (status === 400 || status === 401 || status === 403) {
      return new AuthError(`HubSpot refused the OAuth refresh (${status} ${body.status ?? ""})`.trim(), {
        ...base,
        adminHint:
          "The refresh token, client id or client secret is no longer valid (app uninstalled or credentials rotated): re-authorise the app, update the secrets, then resume the queue.",
      });
    }
  }

  if (status === 401) {
    if (context.canRenewToken) return "renew_token";
    return new AuthError(`HubSpot refused the credentials (${said})`, {
      ...base,
      adminHint:
        "The private app token (or OAuth app) was revoked, rotated or lacks access to this account: update the token, then resume the queue.",
    });
  }
  if (status === 403) {
    return new AuthError(`HubSpot denied access (${said})`, {
      ...base,
      adminHint: `The app lacks a scope (e.g. \`tickets\` or \`crm.objects.<object>.write\`, plus \`crm.objects.contacts.write\` for associations) or the user lost access: grant it, then resume the queue.`,
    });
  }
  if (status === 429) return rateLimited(body, view, base, context.nowMs);
  if (status === 404 && operation === "update") return "record_missing";
  if (status === 404 && operation === "associate") {
    return new PermanentDeliveryError(
      `HubSpot could not associate the record: a record is missing (${said})`,
      base,
    );
  }
  if (status === 400) {
    if (mentionsUnknownProperty(body)) {
      return new DestinationError(`HubSpot refused an unknown property (${said})`, {
        ...base,
        adminHint: UNKNOWN_PROPERTY_HINT,
      });
    }
    // Value problems of our one input are answered per input (a 207), so a 400 of the whole request
    // points at what every record shares: the object type, the idProperty or the association type.
    if (operation === "update" && body.message?.startsWith("Property values were not valid") === true) {
      return new PermanentDeliveryError(`HubSpot refused the record (${said})`, base);
    }
    return new DestinationError(`HubSpot refused the request (${said})`, {
      ...base,
      adminHint:
        operation === "associate"
          ? "Check contact_association (association_type_id and category must fit the object pair), then resume the queue."
          : "Check the destination's object, id_property (a property with unique values) and mapping against the HubSpot portal, then resume the queue.",
    });
  }
  if (status === 404) {
    return new DestinationError(`HubSpot has no such endpoint or object (${said})`, {
      ...base,
      adminHint: "Check the destination's base_url and object, then resume the queue.",
    });
  }
  if (
    status === 408 ||
    status === 409 ||
    status === 423 ||
    (status >= 500 && status !== 501) ||
    status < 200
  ) {
    const retryAfterMs = parseRetryAfter(headerValue(view.headers, "retry-after"), context.nowMs);
    return new RetryableDeliveryError(`HubSpot answered ${said}`, {
      ...base,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  return new PermanentDeliveryError(`HubSpot refused the request (${said})`, base);
}
