import type { FakeResponse } from "../fake-server.js";

/**
 * Zendesk's error answers as the research notes and Zendesk's docs show them. Where the notes say
 * Zendesk answers in text/plain (some 400 and 429), the fake does too.
 */
export const zendeskErrors = {
  basicAuthFailed: (): FakeResponse => ({ status: 401, body: { error: "Couldn't authenticate you" } }),
  invalidToken: (): FakeResponse => ({
    status: 401,
    body: {
      error: "invalid_token",
      error_description:
        "The access token provided is expired, revoked, malformed or invalid for other reasons.",
    },
  }),
  forbidden: (): FakeResponse => ({
    status: 403,
    body: {
      error: "Forbidden",
      description:
        "You do not have access to this page. Please contact the account owner of this help desk for further help.",
    },
  }),
  notFound: (): FakeResponse => ({
    status: 404,
    body: { error: "RecordNotFound", description: "Not found" },
  }),
  invalidEndpoint: (): FakeResponse => ({
    status: 404,
    body: { error: "InvalidEndpoint", description: "Not found" },
  }),
  recordInvalid: (
    details: Readonly<Record<string, readonly { description: string; error: string }[]>>,
  ): FakeResponse => ({
    status: 422,
    body: { error: "RecordInvalid", description: "Record validation errors", details },
  }),
  updateConflict: (): FakeResponse => ({
    status: 409,
    body: {
      error: "UpdateConflict",
      description:
        "Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again.",
    },
  }),
  idempotentRequestError: (): FakeResponse => ({
    status: 400,
    body: {
      error: "IdempotentRequestError",
      description: "Request parameters do not match the original request with the same idempotency key",
    },
  }),
  // The notes give no body for an over-long key; this mirrors the other 400s.
  idempotencyKeyTooLong: (): FakeResponse => ({
    status: 400,
    body: { error: "InvalidIdempotencyKey", description: "Idempotency-Key must be at most 255 characters" },
  }),
  parameterMissing: (name: string): FakeResponse => ({
    status: 400,
    body: { error: "ParameterMissing", description: `param is missing or the value is empty: ${name}` },
  }),
  /** Unparseable JSON: answered in text/plain. */
  malformedBody: (): FakeResponse => ({
    status: 400,
    body: "Bad Request: the request body is not valid JSON\n",
    contentType: "text/plain; charset=utf-8",
  }),
  /** Rate limited: text/plain with Retry-After in seconds. */
  tooManyRequests: (retryAfterSec: number): FakeResponse => ({
    status: 429,
    body: `Too Many Requests: rate limit exceeded, retry after ${retryAfterSec} seconds\n`,
    contentType: "text/plain; charset=utf-8",
    headers: { "retry-after": String(retryAfterSec) },
  }),
  oauth: (status: number, error: string, description: string): FakeResponse => ({
    status,
    body: { error, error_description: description },
  }),
};
