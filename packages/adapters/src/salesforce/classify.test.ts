import {
  AuthError,
  DestinationError,
  PermanentDeliveryError,
  QuotaExhaustedError,
  RetryableDeliveryError,
} from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { classifySalesforceResponse, parseSalesforceApiUsage, type SalesforceOperation } from "./classify.js";

const nowMs = Date.parse("2025-01-01T00:00:00Z");
const errors = (errorCode: string, fields: string[] = []) => [{ message: "text", errorCode, fields }];

type Expected =
  | "ok"
  | "session_expired"
  | "record_missing"
  | typeof RetryableDeliveryError
  | typeof PermanentDeliveryError
  | typeof DestinationError
  | typeof AuthError;

describe("classifySalesforceResponse", () => {
  it.each<[string, SalesforceOperation, number, unknown, Record<string, string>, Expected]>([
    ["created", "upsert", 201, { id: "500x", success: true, errors: [], created: true }, {}, "ok"],
    ["updated", "upsert", 200, { id: "500x", success: true, errors: [], created: false }, {}, "ok"],
    ["updated (old API versions)", "upsert", 204, undefined, {}, "ok"],
    ["updated by id", "update", 204, undefined, {}, "ok"],
    [
      "several matches",
      "upsert",
      300,
      ["/services/data/v62.0/sobjects/Case/500a", "/services/data/v62.0/sobjects/Case/500b"],
      {},
      PermanentDeliveryError,
    ],
    ["session expired", "upsert", 401, errors("INVALID_SESSION_ID"), {}, "session_expired"],
    ["session expired on composite", "composite", 401, errors("INVALID_SESSION_ID"), {}, "session_expired"],
    ["401 without a code", "upsert", 401, "Unauthorized", {}, AuthError],
    [
      "daily quota spent",
      "upsert",
      403,
      errors("REQUEST_LIMIT_EXCEEDED"),
      { "Sforce-Limit-Info": "api-usage=5000/5000" },
      QuotaExhaustedError,
    ],
    ["quota without usage header", "upsert", 403, errors("REQUEST_LIMIT_EXCEEDED"), {}, QuotaExhaustedError],
    [
      "concurrent request limit",
      "upsert",
      403,
      errors("REQUEST_LIMIT_EXCEEDED"),
      { "Sforce-Limit-Info": "api-usage=18/5000" },
      RetryableDeliveryError,
    ],
    ["no permission", "upsert", 403, errors("INSUFFICIENT_ACCESS"), {}, AuthError],
    ["API disabled", "upsert", 403, errors("API_DISABLED_FOR_ORG"), {}, AuthError],
    ["unknown object or external id field", "upsert", 404, errors("NOT_FOUND"), {}, DestinationError],
    ["unknown object on update", "update", 404, "not json", {}, DestinationError],
    ["record deleted (hard)", "update", 404, errors("NOT_FOUND"), {}, "record_missing"],
    ["record deleted (recycle bin)", "update", 404, errors("ENTITY_IS_DELETED"), {}, "record_missing"],
    ["record deleted, 400 form", "update", 400, errors("ENTITY_IS_DELETED"), {}, "record_missing"],
    ["unsupported method", "upsert", 405, errors("METHOD_NOT_ALLOWED"), {}, DestinationError],
    ["row lock", "upsert", 400, errors("UNABLE_TO_LOCK_ROW"), {}, RetryableDeliveryError],
    ["unknown field in body", "upsert", 400, errors("INVALID_FIELD", ["Nope__c"]), {}, DestinationError],
    [
      "field not writable",
      "upsert",
      400,
      errors("INVALID_FIELD_FOR_INSERT_UPDATE", ["CreatedDate"]),
      {},
      DestinationError,
    ],
    ["unknown sObject type", "upsert", 400, errors("INVALID_TYPE"), {}, DestinationError],
    [
      "validation rule",
      "upsert",
      400,
      errors("FIELD_CUSTOM_VALIDATION_EXCEPTION"),
      {},
      PermanentDeliveryError,
    ],
    [
      "required field missing",
      "upsert",
      400,
      errors("REQUIRED_FIELD_MISSING", ["Subject"]),
      {},
      PermanentDeliveryError,
    ],
    ["string too long", "upsert", 400, errors("STRING_TOO_LONG", ["Subject"]), {}, PermanentDeliveryError],
    ["duplicate value", "upsert", 400, errors("DUPLICATE_VALUE"), {}, PermanentDeliveryError],
    [
      "bad picklist value",
      "update",
      400,
      errors("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
      {},
      PermanentDeliveryError,
    ],
    ["400 without a body", "upsert", 400, undefined, {}, PermanentDeliveryError],
    ["too many requests", "upsert", 429, undefined, { "Retry-After": "30" }, RetryableDeliveryError],
    ["timeout", "upsert", 408, undefined, {}, RetryableDeliveryError],
    ["server error", "upsert", 500, errors("UNKNOWN_EXCEPTION"), {}, RetryableDeliveryError],
    ["bad gateway", "upsert", 502, "<html>", {}, RetryableDeliveryError],
    ["unavailable", "upsert", 503, errors("SERVER_UNAVAILABLE"), {}, RetryableDeliveryError],
    ["not implemented", "upsert", 501, undefined, {}, PermanentDeliveryError],
    ["composite envelope refused", "composite", 400, errors("JSON_PARSER_ERROR"), {}, PermanentDeliveryError],
    ["token issued", "token", 200, { access_token: "x" }, {}, "ok"],
    [
      "token: bad client",
      "token",
      400,
      { error: "invalid_client", error_description: "invalid client credentials" },
      {},
      AuthError,
    ],
    [
      "token: bad grant",
      "token",
      400,
      { error: "invalid_grant", error_description: "invalid assertion" },
      {},
      AuthError,
    ],
    ["token: flow not enabled", "token", 400, { error: "unsupported_grant_type" }, {}, AuthError],
    ["token: 401", "token", 401, undefined, {}, AuthError],
    ["token: wrong host", "token", 404, "Not Found", {}, DestinationError],
    ["token: throttled", "token", 429, undefined, {}, RetryableDeliveryError],
    ["token: down", "token", 503, undefined, {}, RetryableDeliveryError],
  ])("%s (%s %i)", (_, operation, status, body, headers, expected) => {
    const outcome = classifySalesforceResponse(status, body, headers, { operation, nowMs, object: "Case" });
    if (typeof expected === "string") {
      expect(outcome).toBe(expected);
      return;
    }
    expect(Object.getPrototypeOf(outcome)).toBe(expected.prototype);
    expect(outcome).toHaveProperty("status", status);
  });

  it("gives every destination-wide outcome an admin hint", () => {
    const cases: [SalesforceOperation, number, unknown][] = [
      ["upsert", 403, errors("REQUEST_LIMIT_EXCEEDED")],
      ["upsert", 404, errors("NOT_FOUND")],
      ["upsert", 400, errors("INVALID_FIELD")],
      ["upsert", 403, errors("INSUFFICIENT_ACCESS")],
      ["token", 400, { error: "invalid_grant" }],
    ];
    for (const [operation, status, body] of cases) {
      const outcome = classifySalesforceResponse(status, body, {}, { operation, nowMs });
      expect(outcome).toHaveProperty("scope", "destination");
      expect(outcome).toHaveProperty("adminHint", expect.stringMatching(/resume the queue/) as unknown);
    }
  });

  it("names the error code and fields, keeps the excerpt, and never quotes Salesforce's message", () => {
    const outcome = classifySalesforceResponse(
      400,
      [
        {
          message: "Customer jane@example.com is blocked",
          errorCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION",
          fields: ["Status"],
        },
      ],
      {},
      {
        operation: "upsert",
        object: "Case",
        responseExcerpt: "excerpt",
      },
    );
    expect(outcome).toHaveProperty(
      "message",
      "Salesforce refused the Case (400 FIELD_CUSTOM_VALIDATION_EXCEPTION on Status)",
    );
    expect(outcome).toHaveProperty("responseExcerpt", "excerpt");
  });

  it("honours Retry-After on 429 and 503", () => {
    expect(
      classifySalesforceResponse(429, undefined, { "retry-after": "30" }, { operation: "upsert", nowMs }),
    ).toHaveProperty("retryAfterMs", 30_000);
    expect(
      classifySalesforceResponse(
        503,
        undefined,
        { "Retry-After": "Wed, 01 Jan 2025 00:00:05 GMT" },
        { operation: "upsert", nowMs },
      ),
    ).toHaveProperty("retryAfterMs", 5_000);
    expect(classifySalesforceResponse(500, undefined, {}, { operation: "upsert", nowMs })).not.toHaveProperty(
      "retryAfterMs",
    );
  });

  it("says how many records share the external id on 300", () => {
    const outcome = classifySalesforceResponse(
      300,
      ["/a", "/b"],
      {},
      { operation: "upsert", object: "Case" },
    );
    expect(outcome).toHaveProperty("message", expect.stringContaining("several Case records (2)") as unknown);
  });
});

describe("parseSalesforceApiUsage", () => {
  it.each([
    ["api-usage=18/5000", { used: 18, max: 5000 }],
    ["api-usage=18/5000; per-app-api-usage=17/250(appName=sample-app)", { used: 18, max: 5000 }],
    ["", undefined],
  ])("%s", (value, expected) => {
    expect(parseSalesforceApiUsage(value === "" ? {} : { "sforce-limit-info": value })).toEqual(expected);
  });
});
