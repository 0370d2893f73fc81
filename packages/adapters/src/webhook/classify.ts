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

// Worth another try: the receiver is busy, locked, throttling or briefly down.
const RETRYABLE_4XX = new Set([408, 409, 423, 425, 429]);

export interface ClassifyOptions {
  /** Already redacted and truncated. */
  readonly responseExcerpt?: string;
  readonly nowMs?: number;
}

/**
 * The single place that maps a webhook response to an outcome (docs/adapters.md has the table).
 * Redirects are not followed: a signed request re-sent elsewhere would be a surprise to the sender.
 */
export function classifyWebhookResponse(
  status: number,
  headers: HeaderBag,
  options: ClassifyOptions = {},
): "ok" | DeliveryError {
  if (status >= 200 && status < 300) return "ok";
  const base = {
    status,
    ...(options.responseExcerpt === undefined ? {} : { responseExcerpt: options.responseExcerpt }),
  };

  if (status === 410) {
    return new DestinationError("webhook endpoint is gone (410)", {
      ...base,
      adminHint:
        "The receiver retired this endpoint: update or remove the destination's url, then resume the queue.",
    });
  }
  if (status === 401 || status === 403) {
    return new AuthError(`webhook endpoint refused the request (${status})`, {
      ...base,
      adminHint:
        "The receiver rejected our signature or access: check that both sides use the same secret, then resume the queue.",
    });
  }
  if (RETRYABLE_4XX.has(status) || (status >= 500 && status !== 501) || status < 200) {
    const retryAfterMs = parseRetryAfter(headerValue(headers, "retry-after"), options.nowMs ?? Date.now());
    return new RetryableDeliveryError(`webhook endpoint answered ${status}`, {
      ...base,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (status >= 300 && status < 400) {
    const location = headerValue(headers, "location");
    return new PermanentDeliveryError(
      `webhook endpoint redirected (${status}${location === undefined ? "" : ` to ${redactSecrets(location)}`}); redirects are not followed`,
      base,
    );
  }
  return new PermanentDeliveryError(`webhook endpoint rejected the delivery (${status})`, base);
}
