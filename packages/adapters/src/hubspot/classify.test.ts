import {
  AuthError,
  DestinationError,
  PermanentDeliveryError,
  RetryableDeliveryError,
} from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import {
  classifyHubSpotResponse,
  msUntilNextUtcMidnight,
  TEN_SECONDLY_BACKOFF_MS,
  type HubSpotClassifyContext,
  type HubSpotOperation,
} from "./classify.js";

const nowMs = Date.parse("2026-03-01T18:00:00Z");
const input = { idProperty: "handoff_key", id: "k-1" };

function context(
  operation: HubSpotOperation,
  overrides: Partial<HubSpotClassifyContext> = {},
): HubSpotClassifyContext {
  return {
    operation,
    nowMs,
    canRenewToken: false,
    ...(operation === "upsert" ? { input } : {}),
    ...overrides,
  };
}

const error = (category: string, message: string, extra: Record<string, unknown> = {}) => ({
  status: "error",
  message,
  correlationId: "c0ffee",
  category,
  ...extra,
});

const unknownProperty = error(
  "VALIDATION_ERROR",
  'Property values were not valid: [{"isValid":false,"message":"Property \\"x\\" does not exist","error":"PROPERTY_DOESNT_EXIST","name":"x"}]',
);
const partial = (entry: Record<string, unknown>) => ({
  status: "COMPLETE",
  results: [],
  numErrors: 1,
  errors: [entry],
});
const ok = { status: "COMPLETE", results: [{ id: "1001", new: true, properties: { handoff_key: "k-1" } }] };

type Expected =
  | "ok"
  | "renew_token"
  | "record_missing"
  | typeof RetryableDeliveryError
  | typeof PermanentDeliveryError
  | typeof DestinationError
  | typeof AuthError;

describe("classifyHubSpotResponse", () => {
  it.each<[string, HubSpotOperation, number, unknown, Expected, Partial<HubSpotClassifyContext>?]>([
    ["upsert 200 with our result", "upsert", 200, ok, "ok"],
    [
      "upsert 207 with our result among errors of others",
      "upsert",
      207,
      {
        ...ok,
        numErrors: 1,
        errors: [{ category: "VALIDATION_ERROR", message: "x", context: { ids: ["other"] } }],
      },
      "ok",
    ],
    [
      "207 value problem of our input",
      "upsert",
      207,
      partial({
        status: "error",
        category: "VALIDATION_ERROR",
        message: "Property values were not valid: [..INVALID_INTEGER..]",
        context: { ids: ["k-1"] },
      }),
      PermanentDeliveryError,
    ],
    [
      "207 unknown property of our input",
      "upsert",
      207,
      partial({ status: "error", category: "VALIDATION_ERROR", message: unknownProperty.message }),
      DestinationError,
    ],
    [
      "207 CONFLICT of our input",
      "upsert",
      207,
      partial({ status: "error", category: "CONFLICT", message: "busy" }),
      RetryableDeliveryError,
    ],
    [
      "207 unknown category",
      "upsert",
      207,
      partial({ status: "error", category: "SOMETHING_NEW", message: "?" }),
      RetryableDeliveryError,
    ],
    [
      "207 missing scope of our input",
      "upsert",
      207,
      partial({ status: "error", category: "MISSING_SCOPES", message: "scopes" }),
      AuthError,
    ],
    [
      "200 without our result or error",
      "upsert",
      200,
      { status: "COMPLETE", results: [] },
      RetryableDeliveryError,
    ],
    ["200 unreadable body", "upsert", 200, "not json", RetryableDeliveryError],
    ["400 PROPERTY_DOESNT_EXIST", "upsert", 400, unknownProperty, DestinationError],
    [
      "400 PROPERTY_DOESNT_EXIST in errors[]",
      "upsert",
      400,
      error("VALIDATION_ERROR", "bad", { errors: [{ code: "PROPERTY_DOESNT_EXIST" }] }),
      DestinationError,
    ],
    [
      "400 idProperty not unique",
      "upsert",
      400,
      error("VALIDATION_ERROR", "Property subject is not a unique-value property"),
      DestinationError,
    ],
    [
      "400 unknown object",
      "upsert",
      400,
      error("VALIDATION_ERROR", "Unable to infer object type from: widgets"),
      DestinationError,
    ],
    [
      "401 private app token",
      "upsert",
      401,
      error("INVALID_AUTHENTICATION", "Authentication credentials not found."),
      AuthError,
    ],
    [
      "401 OAuth token, renewal left",
      "upsert",
      401,
      error("EXPIRED_AUTHENTICATION", "expired"),
      "renew_token",
      { canRenewToken: true },
    ],
    ["401 OAuth token after renewal", "upsert", 401, error("EXPIRED_AUTHENTICATION", "expired"), AuthError],
    ["403 MISSING_SCOPES", "upsert", 403, error("MISSING_SCOPES", "scopes"), AuthError],
    ["404 on upsert: no such object endpoint", "upsert", 404, undefined, DestinationError],
    ["408", "upsert", 408, undefined, RetryableDeliveryError],
    ["409 CONFLICT", "upsert", 409, error("CONFLICT", "concurrent"), RetryableDeliveryError],
    ["422", "upsert", 422, error("VALIDATION_ERROR", "?"), PermanentDeliveryError],
    ["423", "upsert", 423, undefined, RetryableDeliveryError],
    ["500", "upsert", 500, undefined, RetryableDeliveryError],
    ["501", "upsert", 501, undefined, PermanentDeliveryError],
    ["502", "upsert", 502, undefined, RetryableDeliveryError],
    ["503", "upsert", 503, undefined, RetryableDeliveryError],
    ["504", "upsert", 504, undefined, RetryableDeliveryError],
    ["302", "upsert", 302, undefined, PermanentDeliveryError],
    ["update 200", "update", 200, { id: "1001", properties: {} }, "ok"],
    [
      "update 404: record deleted",
      "update",
      404,
      error("OBJECT_NOT_FOUND", "Object not found."),
      "record_missing",
    ],
    [
      "update 400 bad value",
      "update",
      400,
      error("VALIDATION_ERROR", "Property values were not valid: [INVALID_OPTION]"),
      PermanentDeliveryError,
    ],
    ["update 400 unknown property", "update", 400, unknownProperty, DestinationError],
    ["associate 200", "associate", 200, { fromObjectId: 1, toObjectId: 2, labels: [] }, "ok"],
    [
      "associate 404: contact missing",
      "associate",
      404,
      error("OBJECT_NOT_FOUND", "No contacts with ID 9 exist"),
      PermanentDeliveryError,
    ],
    [
      "associate 400: wrong association type",
      "associate",
      400,
      error("VALIDATION_ERROR", "1 is not a valid HUBSPOT_DEFINED association type"),
      DestinationError,
    ],
    ["token 200", "token", 200, { access_token: "a", expires_in: 1800 }, "ok"],
    [
      "token 400 BAD_REFRESH_TOKEN",
      "token",
      400,
      { status: "BAD_REFRESH_TOKEN", message: "missing or invalid refresh token" },
      AuthError,
    ],
    ["token 401", "token", 401, undefined, AuthError],
    ["token 503", "token", 503, undefined, RetryableDeliveryError],
  ])("%s", (_label, operation, status, body, expected, overrides = {}) => {
    const outcome = classifyHubSpotResponse({ status, headers: {}, body }, context(operation, overrides));
    if (typeof expected === "string") {
      expect(outcome).toBe(expected);
      return;
    }
    expect(Object.getPrototypeOf(outcome)).toBe(expected.prototype);
    expect(outcome).toHaveProperty("status", status);
  });

  it("retries TEN_SECONDLY_ROLLING after Retry-After, else after 10 s", () => {
    const body = { status: "error", errorType: "RATE_LIMIT", policyName: "TEN_SECONDLY_ROLLING" };
    const withHeader = classifyHubSpotResponse(
      { status: 429, headers: { "Retry-After": "3" }, body },
      context("upsert"),
    );
    expect(withHeader).toBeInstanceOf(RetryableDeliveryError);
    expect(withHeader).toHaveProperty("retryAfterMs", 3_000);
    const without = classifyHubSpotResponse({ status: 429, headers: {}, body }, context("upsert"));
    expect(without).toHaveProperty("retryAfterMs", TEN_SECONDLY_BACKOFF_MS);
    const unknownPolicy = classifyHubSpotResponse(
      { status: 429, headers: {}, body: "slow down" },
      context("associate"),
    );
    expect(unknownPolicy).toBeInstanceOf(RetryableDeliveryError);
  });

  it("parks on DAILY until the next UTC midnight", () => {
    const body = { status: "error", errorType: "RATE_LIMIT", policyName: "DAILY" };
    const outcome = classifyHubSpotResponse(
      { status: 429, headers: { "retry-after": "1" }, body },
      context("upsert"),
    );
    expect(outcome).toBeInstanceOf(DestinationError);
    expect(outcome).toHaveProperty("retryAfterMs", 6 * 3_600_000);
    expect(outcome).toHaveProperty("adminHint", expect.stringMatching(/daily/) as unknown);
  });

  it("counts to the next UTC midnight", () => {
    expect(msUntilNextUtcMidnight(Date.parse("2026-03-01T23:59:59.000Z"))).toBe(1_000);
    expect(msUntilNextUtcMidnight(Date.parse("2026-03-01T00:00:00.000Z"))).toBe(86_400_000);
  });

  it("reads Retry-After on 5xx and keeps the excerpt", () => {
    const outcome = classifyHubSpotResponse(
      { status: 503, headers: { "retry-after": "20" }, body: undefined, responseExcerpt: "down" },
      context("upsert"),
    );
    expect(outcome).toMatchObject({ retryAfterMs: 20_000, responseExcerpt: "down" });
  });

  it("gives every destination-wide outcome an admin hint", () => {
    for (const [status, body] of [
      [400, unknownProperty],
      [401, undefined],
      [403, undefined],
      [404, undefined],
    ] as const) {
      const outcome = classifyHubSpotResponse({ status, headers: {}, body }, context("upsert"));
      expect(outcome).toHaveProperty("scope", "destination");
      expect(outcome).toHaveProperty("adminHint", expect.stringMatching(/resume/) as unknown);
    }
  });
});
