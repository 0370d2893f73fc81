import {
  AuthError,
  DestinationError,
  PermanentDeliveryError,
  RetryableDeliveryError,
} from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { classifyWebhookResponse } from "./classify.js";

const nowMs = Date.parse("2025-01-01T00:00:00Z");

describe("classifyWebhookResponse", () => {
  it.each([
    [200, "ok"],
    [202, "ok"],
    [204, "ok"],
    [301, PermanentDeliveryError],
    [302, PermanentDeliveryError],
    [308, PermanentDeliveryError],
    [400, PermanentDeliveryError],
    [404, PermanentDeliveryError],
    [413, PermanentDeliveryError],
    [422, PermanentDeliveryError],
    [401, AuthError],
    [403, AuthError],
    [410, DestinationError],
    [408, RetryableDeliveryError],
    [409, RetryableDeliveryError],
    [423, RetryableDeliveryError],
    [425, RetryableDeliveryError],
    [429, RetryableDeliveryError],
    [500, RetryableDeliveryError],
    [501, PermanentDeliveryError],
    [502, RetryableDeliveryError],
    [503, RetryableDeliveryError],
    [504, RetryableDeliveryError],
  ] as const)("%i -> %o", (status, expected) => {
    const outcome = classifyWebhookResponse(status, {}, { nowMs });
    if (expected === "ok") {
      expect(outcome).toBe("ok");
      return;
    }
    expect(Object.getPrototypeOf(outcome)).toBe(expected.prototype);
    expect(outcome).toHaveProperty("status", status);
  });

  it("scopes 410 and auth failures to the destination with an admin hint", () => {
    for (const status of [401, 403, 410]) {
      const outcome = classifyWebhookResponse(status, {});
      expect(outcome).toHaveProperty("scope", "destination");
      expect(outcome).toHaveProperty("adminHint", expect.stringMatching(/resume/) as unknown);
    }
  });

  it.each([
    ["120", 120_000],
    ["0", 0],
    ["Wed, 01 Jan 2025 00:00:30 GMT", 30_000],
    ["Tue, 31 Dec 2024 23:00:00 GMT", 0],
  ])("reads Retry-After %s as %i ms", (value, expected) => {
    const outcome = classifyWebhookResponse(429, { "Retry-After": value }, { nowMs });
    expect(outcome).toHaveProperty("retryAfterMs", expected);
  });

  it("ignores an unreadable Retry-After", () => {
    const outcome = classifyWebhookResponse(503, { "retry-after": "soon" }, { nowMs });
    expect(outcome).toBeInstanceOf(RetryableDeliveryError);
    expect(outcome).not.toHaveProperty("retryAfterMs");
  });

  it("keeps the excerpt and names the redirect target", () => {
    const outcome = classifyWebhookResponse(
      302,
      { location: "https://elsewhere.example/hook?token=abc" },
      { responseExcerpt: "moved" },
    );
    expect(outcome).toHaveProperty("responseExcerpt", "moved");
    expect(outcome).toHaveProperty(
      "message",
      expect.stringContaining("https://elsewhere.example/hook?token=[REDACTED]") as unknown,
    );
  });
});
