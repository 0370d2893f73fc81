import {
  AuthError,
  DestinationError,
  PermanentDeliveryError,
  RetryableDeliveryError,
} from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import {
  classifyServiceNowResponse,
  type ServiceNowClassifyContext,
  type ServiceNowTarget,
} from "./classify.js";

const nowMs = Date.parse("2025-01-01T00:00:00Z");

const failure = (message: string, detail: string | null = null) => ({
  error: { message, detail },
  status: "failure",
});

function context(
  target: ServiceNowTarget,
  overrides: Partial<ServiceNowClassifyContext> = {},
): ServiceNowClassifyContext {
  return { target, table: "incident", auth: "basic", renewed: false, nowMs, ...overrides };
}

type Expected =
  | "ok"
  | "renew_token"
  | "record_missing"
  | typeof RetryableDeliveryError
  | typeof PermanentDeliveryError
  | typeof DestinationError
  | typeof AuthError;

describe("classifyServiceNowResponse", () => {
  it.each<[string, number, unknown, ServiceNowClassifyContext, Expected]>([
    ["201 created", 201, { result: { sys_id: "a" } }, context("table"), "ok"],
    ["200 lookup", 200, { result: [] }, context("table"), "ok"],
    ["200 update", 200, { result: { sys_id: "a" } }, context("record"), "ok"],
    ["200 token", 200, { access_token: "t", expires_in: 1799 }, context("token"), "ok"],
    ["200 HTML login page", 200, undefined, context("table"), DestinationError],
    ["302 to SSO", 302, undefined, context("table"), DestinationError],
    [
      "400 bad value",
      400,
      failure("Exception while reading request"),
      context("table"),
      PermanentDeliveryError,
    ],
    ["400 on update", 400, failure("Bad request"), context("record"), PermanentDeliveryError],
    ["400 Invalid table", 400, failure("Invalid table u_nope"), context("table"), DestinationError],
    ["401 Basic", 401, failure("User Not Authenticated"), context("table"), AuthError],
    [
      "401 OAuth, first",
      401,
      failure("User Not Authenticated"),
      context("record", { auth: "oauth" }),
      "renew_token",
    ],
    [
      "401 OAuth, renewed",
      401,
      failure("User Not Authenticated"),
      context("table", { auth: "oauth", renewed: true }),
      AuthError,
    ],
    [
      "403 ACL",
      403,
      failure("User Not Authorized", "Failed API level ACL Validation"),
      context("table"),
      AuthError,
    ],
    [
      "403 data policy",
      403,
      failure("Operation Failed", "Data Policy Exception"),
      context("table"),
      PermanentDeliveryError,
    ],
    [
      "403 business rule on update",
      403,
      failure("Operation Failed"),
      context("record"),
      PermanentDeliveryError,
    ],
    ["404 on a record", 404, failure("No Record found"), context("record"), "record_missing"],
    ["404 on the table", 404, failure("No Record found"), context("table"), DestinationError],
    ["405", 405, failure("Method not Supported"), context("table"), PermanentDeliveryError],
    ["408", 408, undefined, context("table"), RetryableDeliveryError],
    ["409", 409, undefined, context("record"), RetryableDeliveryError],
    ["429", 429, failure("Too Many Requests"), context("table"), RetryableDeliveryError],
    ["500", 500, failure("Internal error"), context("table"), RetryableDeliveryError],
    ["502", 502, "Bad Gateway", context("record"), RetryableDeliveryError],
    ["503", 503, undefined, context("table"), RetryableDeliveryError],
    [
      "token 401",
      401,
      { error: "server_error", error_description: "access_denied" },
      context("token", { auth: "oauth" }),
      AuthError,
    ],
    ["token 400", 400, { error: "invalid_grant" }, context("token", { auth: "oauth" }), AuthError],
    ["token 404", 404, undefined, context("token", { auth: "oauth" }), DestinationError],
    ["token 429", 429, undefined, context("token", { auth: "oauth" }), RetryableDeliveryError],
    ["token 503", 503, undefined, context("token", { auth: "oauth" }), RetryableDeliveryError],
  ])("%s -> %o", (_name, status, body, ctx, expected) => {
    const outcome = classifyServiceNowResponse({ status, headers: {}, body }, ctx);
    if (typeof expected === "string") {
      expect(outcome.kind).toBe(expected);
      return;
    }
    expect(outcome.kind).toBe("failed");
    const error = outcome.kind === "failed" ? outcome.error : undefined;
    expect(Object.getPrototypeOf(error)).toBe(expected.prototype);
    expect(error).toHaveProperty("status", status);
  });

  it("scopes destination-wide failures to the destination with an admin hint", () => {
    for (const [status, body] of [
      [401, failure("User Not Authenticated")],
      [403, failure("User Not Authorized")],
      [400, failure("Invalid table u_nope")],
    ] as const) {
      const outcome = classifyServiceNowResponse({ status, headers: {}, body }, context("table"));
      const error = outcome.kind === "failed" ? outcome.error : undefined;
      expect(error).toHaveProperty("scope", "destination");
      expect(error).toHaveProperty("adminHint", expect.stringMatching(/resume/) as unknown);
    }
  });

  it.each([
    ["30", 30_000],
    ["Wed, 01 Jan 2025 00:01:00 GMT", 60_000],
  ])("reads Retry-After %s as %i ms", (value, expected) => {
    const outcome = classifyServiceNowResponse(
      { status: 429, headers: { "Retry-After": value }, body: undefined },
      context("table"),
    );
    expect(outcome.kind === "failed" ? outcome.error : undefined).toHaveProperty("retryAfterMs", expected);
  });

  it("names the CRM's message and keeps the excerpt", () => {
    const outcome = classifyServiceNowResponse(
      {
        status: 400,
        headers: {},
        body: failure("Bad value", "priority must be 1-5"),
        excerpt: '{"error":...}',
      },
      context("table"),
    );
    const error = outcome.kind === "failed" ? outcome.error : undefined;
    expect(error).toHaveProperty(
      "message",
      expect.stringContaining("400 Bad value: priority must be 1-5") as unknown,
    );
    expect(error).toHaveProperty("responseExcerpt", '{"error":...}');
  });
});
