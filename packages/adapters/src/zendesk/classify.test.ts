import {
  AuthError,
  DestinationError,
  PermanentDeliveryError,
  RetryableDeliveryError,
} from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { classifyZendeskResponse, type ZendeskOperation } from "./classify.js";

const NOW = Date.parse("2025-03-01T10:00:00Z");

type Expected = "ok" | "not_found" | "retryable" | "permanent" | "destination" | "auth";

function kind(outcome: ReturnType<typeof classifyZendeskResponse>): Expected {
  if (outcome === "ok" || outcome === "not_found") return outcome;
  if (outcome instanceof AuthError) return "auth";
  if (outcome instanceof DestinationError) return "destination";
  if (outcome instanceof RetryableDeliveryError) return "retryable";
  if (outcome instanceof PermanentDeliveryError) return "permanent";
  throw new Error("unknown outcome");
}

const json = (body: unknown) => JSON.stringify(body);
const recordInvalid = json({
  error: "RecordInvalid",
  description: "Record validation errors",
  details: {
    requester: [{ description: "Requester: Email is not properly formatted", error: "InvalidValue" }],
  },
});

const table: [string, ZendeskOperation, number, Record<string, string>, string, Expected][] = [
  ["created", "create", 201, {}, json({ ticket: { id: 1 } }), "ok"],
  ["updated", "update", 200, {}, json({ ticket: { id: 1 } }), "ok"],
  ["token issued", "token", 200, {}, json({ access_token: "x" }), "ok"],
  [
    "429 text/plain with Retry-After",
    "create",
    429,
    { "retry-after": "30" },
    "Too Many Requests\n",
    "retryable",
  ],
  ["409 safe_update conflict", "update", 409, {}, json({ error: "UpdateConflict" }), "retryable"],
  ["500", "create", 500, {}, "", "retryable"],
  ["502 html", "lookup", 502, {}, "<html>bad gateway</html>", "retryable"],
  ["503 maintenance", "update", 503, { "retry-after": "5" }, "", "retryable"],
  ["504", "read", 504, {}, "", "retryable"],
  ["408", "create", 408, {}, "", "retryable"],
  ["400 text/plain", "create", 400, {}, "Bad Request\n", "permanent"],
  [
    "400 IdempotentRequestError",
    "create",
    400,
    {},
    json({ error: "IdempotentRequestError", description: "x" }),
    "permanent",
  ],
  ["422 RecordInvalid", "create", 422, {}, recordInvalid, "permanent"],
  [
    "422 closed ticket",
    "update",
    422,
    {},
    json({ error: "RecordInvalid", details: { status: [{ error: "StatusClosed" }] } }),
    "permanent",
  ],
  ["413 too large", "create", 413, {}, "", "permanent"],
  ["501", "create", 501, {}, "", "permanent"],
  ["401 API token", "create", 401, {}, json({ error: "Couldn't authenticate you" }), "auth"],
  ["401 bearer", "update", 401, {}, json({ error: "invalid_token" }), "auth"],
  ["401 on the token endpoint", "token", 401, {}, json({ error: "invalid_client" }), "auth"],
  ["400 on the token endpoint", "token", 400, {}, json({ error: "unsupported_grant_type" }), "auth"],
  ["403", "create", 403, {}, json({ error: "Forbidden" }), "destination"],
  [
    "404 on update",
    "update",
    404,
    {},
    json({ error: "RecordNotFound", description: "Not found" }),
    "not_found",
  ],
  ["404 on read", "read", 404, {}, json({ error: "RecordNotFound", description: "Not found" }), "not_found"],
  ["404 on create (wrong account url)", "create", 404, {}, json({ error: "InvalidEndpoint" }), "destination"],
  ["404 on lookup", "lookup", 404, {}, "", "destination"],
  ["301 to https", "create", 301, { location: "https://acme.zendesk.com/api/v2/tickets" }, "", "destination"],
];

describe("classifyZendeskResponse", () => {
  it.each(table)("%s (%s %i) -> %s", (_name, operation, status, headers, body, expected) => {
    expect(kind(classifyZendeskResponse({ operation, status, headers, body, nowMs: NOW }))).toBe(expected);
  });

  it("turns Retry-After seconds into retryAfterMs, on 429 and on 503", () => {
    const limited = classifyZendeskResponse({
      operation: "create",
      status: 429,
      headers: { "Retry-After": "30" },
      body: "Too Many Requests",
      nowMs: NOW,
    });
    expect(limited).toBeInstanceOf(RetryableDeliveryError);
    expect(limited).toMatchObject({ retryAfterMs: 30_000, status: 429 });
    const down = classifyZendeskResponse({
      operation: "update",
      status: 503,
      headers: { "retry-after": "5" },
      body: "",
      nowMs: NOW,
    });
    expect(down).toMatchObject({ retryAfterMs: 5_000 });
    const bare = classifyZendeskResponse({
      operation: "update",
      status: 409,
      headers: {},
      body: "",
      nowMs: NOW,
    });
    expect(bare).toBeInstanceOf(RetryableDeliveryError);
    expect(bare).not.toHaveProperty("retryAfterMs");
  });

  it("names invalid fields but never their descriptions, and keeps the excerpt", () => {
    const outcome = classifyZendeskResponse({
      operation: "create",
      status: 422,
      headers: {},
      body: recordInvalid,
      responseExcerpt: "excerpt",
      nowMs: NOW,
    });
    expect(outcome).toBeInstanceOf(PermanentDeliveryError);
    expect((outcome as PermanentDeliveryError).message).toContain("fields: requester");
    expect((outcome as PermanentDeliveryError).message).not.toContain("properly formatted");
    expect(outcome).toMatchObject({ responseExcerpt: "excerpt", status: 422 });
  });

  it("tells the admin what to fix on destination-wide errors", () => {
    for (const status of [401, 403]) {
      const outcome = classifyZendeskResponse({
        operation: "create",
        status,
        headers: {},
        body: "",
        nowMs: NOW,
      });
      expect(outcome).toBeInstanceOf(DestinationError);
      expect((outcome as DestinationError).adminHint).not.toBe("");
    }
  });
});
