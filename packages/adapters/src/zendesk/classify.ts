import {
  AuthError,
  DestinationError,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type DeliveryError,
} from "@handoff-sync/schema";
import { headerValue, type HeaderBag } from "../http/headers.js";
import { parseRetryAfter } from "../http/retry-after.js";

/** Which call answered: the same status means different things for a collection and for one ticket. */
export type ZendeskOperation = "token" | "create" | "lookup" | "read" | "update";

export interface ZendeskResponseInput {
  readonly operation: ZendeskOperation;
  readonly status: number;
  readonly headers: HeaderBag;
  /** The raw body: JSON for most errors, text/plain for some 400 and 429. */
  readonly body: string;
  /** Already redacted and truncated. */
  readonly responseExcerpt?: string;
  readonly nowMs?: number;
}

/** `not_found`: the ticket named in the path is gone; the adapter applies `on_missing_record`. */
export type ZendeskOutcome = "ok" | "not_found" | DeliveryError;

const RETRYABLE_4XX = new Set([408, 409, 423, 425, 429]);

interface ZendeskErrorBody {
  readonly error?: string;
  readonly description?: string;
  readonly fields: readonly string[];
}

function errorBody(body: string): ZendeskErrorBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { fields: [] };
  }
  if (parsed === null || typeof parsed !== "object") return { fields: [] };
  const record = parsed as Record<string, unknown>;
  // Zendesk answers {"error": "RecordInvalid", ...} on the ticket API and {"error": {"title", "message"}} elsewhere.
  const error =
    typeof record.error === "string"
      ? record.error
      : typeof record.error === "object" &&
          record.error !== null &&
          typeof (record.error as Record<string, unknown>).title === "string"
        ? String((record.error as Record<string, unknown>).title)
        : undefined;
  const description = typeof record.description === "string" ? record.description : undefined;
  // Only the names of invalid fields go into messages: their descriptions may quote the customer's data.
  const fields =
    typeof record.details === "object" && record.details !== null ? Object.keys(record.details) : [];
  return {
    ...(error === undefined ? {} : { error }),
    ...(description === undefined ? {} : { description }),
    fields,
  };
}

/**
 * The single place that maps a Zendesk response to an outcome (docs/adapters/zendesk.md has the
 * table). Pure: the adapter applies token renewal and `on_missing_record` around it.
 */
export function classifyZendeskResponse(input: ZendeskResponseInput): ZendeskOutcome {
  const { status, operation } = input;
  if (status >= 200 && status < 300) return "ok";
  const base = {
    status,
    ...(input.responseExcerpt === undefined ? {} : { responseExcerpt: input.responseExcerpt }),
  };
  const { error, fields } = errorBody(input.body);
  const code = error === undefined ? `${status}` : `${status} ${error}`;

  if (status === 429 || (status >= 500 && status !== 501) || RETRYABLE_4XX.has(status)) {
    const retryAfterMs = parseRetryAfter(
      headerValue(input.headers, "retry-after"),
      input.nowMs ?? Date.now(),
    );
    const why =
      status === 409 ? " (the ticket changed meanwhile or a request with the same key is in flight)" : "";
    return new RetryableDeliveryError(`Zendesk ${operation} answered ${code}${why}`, {
      ...base,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  if (operation === "token" && (status === 400 || status === 401 || status === 403)) {
    return new AuthError(`Zendesk refused the OAuth client credentials (${code})`, {
      ...base,
      adminHint:
        "Check the OAuth client's identifier and secret in Admin Center > Apps and integrations > APIs > OAuth clients, that the client may use the client_credentials grant, and the requested scope; then resume the queue.",
    });
  }
  if (status === 401) {
    return new AuthError(`Zendesk did not accept the credentials (${code})`, {
      ...base,
      adminHint:
        "Check the destination's auth: the API token must be active (Admin Center > Apps and integrations > APIs > Zendesk API) and belong to the configured email, or the OAuth token must not be revoked; then resume the queue.",
    });
  }
  if (status === 403) {
    return new DestinationError(`Zendesk forbids this ${operation} (${code})`, {
      ...base,
      adminHint:
        "The integration user may not create or update tickets: give it an agent role with ticket access (and the OAuth token the tickets:read and tickets:write scopes), or check that API access is enabled; then resume the queue.",
    });
  }
  if (status === 404) {
    if (operation === "read" || operation === "update") return "not_found";
    return new DestinationError(`Zendesk answered 404 for the ticket API (${operation})`, {
      ...base,
      adminHint:
        "Check the destination's subdomain or url: it must be the Zendesk account's address, such as https://acme.zendesk.com.",
    });
  }
  if (status >= 300 && status < 400) {
    return new DestinationError(`Zendesk redirected the request (${status}); redirects are not followed`, {
      ...base,
      adminHint: "Use the account's https:// address in the destination's subdomain or url.",
    });
  }
  if (status === 400 && error === "IdempotentRequestError") {
    return new PermanentDeliveryError(
      "Zendesk refused the ticket: its Idempotency-Key was used with a different body within the key's lifetime (about 2 h)",
      base,
    );
  }
  if (status === 422) {
    const which = fields.length === 0 ? "" : ` (fields: ${fields.join(", ")})`;
    return new PermanentDeliveryError(`Zendesk rejected the ticket as invalid: ${code}${which}`, base);
  }
  return new PermanentDeliveryError(`Zendesk rejected the ${operation} (${code})`, base);
}
