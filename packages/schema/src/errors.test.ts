import { z } from "zod";
import { describe, expect, it } from "vitest";
import {
  AuthError,
  DeliveryError,
  DestinationError,
  HandoffSyncError,
  isRetryable,
  PermanentDeliveryError,
  RetryableDeliveryError,
  UnknownStateError,
} from "./errors.js";

describe("delivery errors", () => {
  it("carry their kind, scope, details and cause", () => {
    const cause = new Error("socket hang up");
    const err = new RetryableDeliveryError("zendesk 503", {
      cause,
      status: 503,
      retryAfterMs: 2000,
      responseExcerpt: "busy",
    });
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toBeInstanceOf(HandoffSyncError);
    expect(err).toMatchObject({
      name: "RetryableDeliveryError",
      scope: "record",
      retryable: true,
      status: 503,
      retryAfterMs: 2000,
    });
    expect(err.responseExcerpt).toBe("busy");
    expect(err.cause).toBe(cause);
    expect(err.stack).toMatch(/^RetryableDeliveryError: zendesk 503/);
  });

  it("leave absent details absent", () => {
    const err = new PermanentDeliveryError("bad phone number");
    expect(Object.hasOwn(err, "status")).toBe(false);
    expect(Object.hasOwn(err, "cause")).toBe(false);
    expect(err).toMatchObject({ name: "PermanentDeliveryError", scope: "record", retryable: false });
  });

  it("destination-wide errors carry an admin hint", () => {
    const err = new DestinationError("no such field Handoff__c", {
      adminHint: "Create the field Handoff__c",
      status: 400,
    });
    expect(err).toMatchObject({
      name: "DestinationError",
      scope: "destination",
      retryable: false,
      adminHint: "Create the field Handoff__c",
    });
    const auth = new AuthError("401 after refresh", { status: 401 });
    expect(auth).toBeInstanceOf(DestinationError);
    expect(auth).toMatchObject({ name: "AuthError", scope: "destination", retryable: false });
    expect(auth.adminHint).toMatch(/credentials/);
  });
});

describe("isRetryable", () => {
  const zodError = z.string().safeParse(1).error;

  it.each([
    ["retryable delivery", new RetryableDeliveryError("x"), true],
    ["permanent delivery", new PermanentDeliveryError("x"), false],
    ["destination", new DestinationError("x", { adminHint: "y" }), false],
    ["auth", new AuthError("x"), false],
    ["unknown state", new UnknownStateError("mystery"), false],
    ["TypeError", new TypeError("x is undefined"), false],
    ["ReferenceError", new ReferenceError("x"), false],
    ["RangeError", new RangeError("x"), false],
    ["SyntaxError", new SyntaxError("x"), false],
    ["ZodError", zodError, false],
    ["plain Error", new Error("ECONNRESET"), true],
    ["thrown string", "boom", true],
    ["undefined", undefined, true],
  ])("%s -> %s", (_label, err, expected) => {
    expect(isRetryable(err)).toBe(expected);
  });
});
