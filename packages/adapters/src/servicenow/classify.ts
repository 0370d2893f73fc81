import {
  AuthError,
  DestinationError,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type DeliveryError,
} from "@handoff-sync/schema";
import { headerValue, type HeaderBag } from "../http/headers.js";
import { redactSecrets } from "../http/response-excerpt.js";
import { parseRetryAfter } from "../http/retry-after.js";

/**
 * What a request addressed: the table's collection (`/api/now/table/{table}`: the lookup and the
 * create), one record (`/api/now/table/{table}/{sys_id}`: the update), or the OAuth token endpoint.
 * A 404 means something different on each.
 */
export type ServiceNowTarget = "table" | "record" | "token";

export interface ServiceNowResponseInfo {
  readonly status: number;
  readonly headers: HeaderBag;
  /** The parsed JSON body, or undefined when the body was not JSON. */
  readonly body: unknown;
  /** Already redacted and truncated. */
  readonly excerpt?: string;
}

export interface ServiceNowClassifyContext {
  readonly target: ServiceNowTarget;
  readonly table: string;
  readonly auth: "basic" | "oauth";
  /** Whether this delivery already renewed its token once: a second 401 is final. */
  readonly renewed: boolean;
  readonly nowMs?: number;
}

export type ServiceNowOutcome =
  | { readonly kind: "ok" }
  /** OAuth access token refused: mint a new one and send the request once more. */
  | { readonly kind: "renew_token" }
  /** The record the update addressed is gone: `on_missing_record` decides. */
  | { readonly kind: "record_missing" }
  | { readonly kind: "failed"; readonly error: DeliveryError };

// Worth another try: the instance is busy, locked or throttling.
const RETRYABLE_4XX = new Set([408, 409, 423, 425, 429]);

const RESUME = "then resume the destination's queue.";

/** `{"error":{"message","detail"},"status":"failure"}`, the Table API's error body, or the token endpoint's `{error, error_description}`. */
function errorText(body: unknown): { message?: string; detail?: string } {
  if (body === null || typeof body !== "object") return {};
  const error = (body as Record<string, unknown>)["error"];
  if (error !== null && typeof error === "object") {
    const { message, detail } = error as Record<string, unknown>;
    return {
      ...(typeof message === "string" ? { message } : {}),
      ...(typeof detail === "string" ? { detail } : {}),
    };
  }
  const description = (body as Record<string, unknown>)["error_description"];
  return {
    ...(typeof error === "string" ? { message: error } : {}),
    ...(typeof description === "string" ? { detail: description } : {}),
  };
}

function describe(status: number, body: unknown): string {
  const { message, detail } = errorText(body);
  const text = [message, detail].filter((part) => part !== undefined && part !== "").join(": ");
  return text === "" ? `${status}` : `${status} ${text}`;
}

function hasResult(body: unknown): boolean {
  return body !== null && typeof body === "object" && "result" in body;
}

/**
 * The single place that maps a ServiceNow answer to an outcome; docs/adapters/servicenow.md has the
 * table. Pure: the adapter acts on `renew_token` and `record_missing`, and throws `failed.error`.
 */
export function classifyServiceNowResponse(
  response: ServiceNowResponseInfo,
  context: ServiceNowClassifyContext,
): ServiceNowOutcome {
  const { status, body } = response;
  const base = {
    status,
    ...(response.excerpt === undefined || response.excerpt === ""
      ? {}
      : { responseExcerpt: response.excerpt }),
  };
  const failed = (error: DeliveryError): ServiceNowOutcome => ({ kind: "failed", error });
  const what = context.target === "token" ? "ServiceNow token endpoint" : `ServiceNow table ${context.table}`;

  if (status >= 200 && status < 300) {
    // An instance behind SSO or a hibernating developer instance answers 200 with an HTML page.
    if (context.target !== "token" && !hasResult(body)) {
      return failed(
        new DestinationError(`${what} answered ${status} without a Table API result`, {
          ...base,
          adminHint: `Check that instance_url points at the instance itself (not an SSO or login page) and that the instance is awake, ${RESUME}`,
        }),
      );
    }
    return { kind: "ok" };
  }

  if (status >= 300 && status < 400) {
    const location = headerValue(response.headers, "location");
    return failed(
      new DestinationError(
        `${what} redirected (${status}${location === undefined ? "" : ` to ${redactSecrets(location)}`})`,
        {
          ...base,
          adminHint: `Set instance_url to the instance's own https:// origin (redirects are not followed), ${RESUME}`,
        },
      ),
    );
  }

  if (RETRYABLE_4XX.has(status) || status >= 500 || status < 200) {
    const retryAfterMs = parseRetryAfter(
      headerValue(response.headers, "retry-after"),
      context.nowMs ?? Date.now(),
    );
    return failed(
      new RetryableDeliveryError(`${what} answered ${describe(status, body)}`, {
        ...base,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      }),
    );
  }

  if (context.target === "token") {
    if (status === 404) {
      return failed(
        new DestinationError(`${what} not found (404)`, {
          ...base,
          adminHint: `Activate the OAuth 2.0 plugin on the instance (or switch auth to basic), ${RESUME}`,
        }),
      );
    }
    return failed(
      new AuthError(`${what} refused the credentials (${describe(status, body)})`, {
        ...base,
        adminHint: `Check client_id and client_secret in System OAuth > Application Registry, and the grant's user or refresh token (refresh tokens expire), ${RESUME}`,
      }),
    );
  }

  if (status === 401) {
    if (context.auth === "oauth" && !context.renewed) return { kind: "renew_token" };
    return failed(
      new AuthError(`${what} refused the credentials (${describe(status, body)})`, {
        ...base,
        adminHint:
          context.auth === "basic"
            ? `Check the integration user's name and password (and that it is active, not locked out, and allowed Basic auth), ${RESUME}`
            : `A freshly minted OAuth token was refused: check the OAuth application and the user it acts as, ${RESUME}`,
      }),
    );
  }

  const { message } = errorText(body);

  if (status === 403) {
    // Business rules that abort and data policies answer 403 "Operation Failed": this record's data
    // is refused, not our access.
    if (message === "Operation Failed") {
      return failed(
        new PermanentDeliveryError(`${what} refused the record (${describe(status, body)})`, base),
      );
    }
    return failed(
      new AuthError(`${what} denied access (${describe(status, body)})`, {
        ...base,
        adminHint: `Give the integration user read, create and write access to ${context.table} and its correlation_id, correlation_display and version fields (e.g. the itil role, or ACLs for a custom table), ${RESUME}`,
      }),
    );
  }

  if (status === 404 && context.target === "record") return { kind: "record_missing" };

  // ServiceNow answers an unknown table with 400 "Invalid table <name>"; a 404 on the collection
  // means the path itself is wrong or ACLs hide the table.
  if ((status === 400 && message?.startsWith("Invalid table") === true) || status === 404) {
    return failed(
      new DestinationError(`${what} is not available (${describe(status, body)})`, {
        ...base,
        adminHint: `Check the destination's table setting and that the integration user can read ${context.table}, ${RESUME}`,
      }),
    );
  }

  return failed(new PermanentDeliveryError(`${what} rejected the record (${describe(status, body)})`, base));
}
