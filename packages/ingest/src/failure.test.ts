import { UnknownStateError, UnprocessableEventError, RetryableDeliveryError } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { describeFailure, failureOrigin, sameFailure } from "./failure.js";

class ReplyError extends Error {
  override name = "ReplyError";
}

describe("failureOrigin", () => {
  it.each([
    [new UnprocessableEventError("too_deep", "too deep"), "record"],
    [new UnknownStateError("x"), "record"],
    [new RetryableDeliveryError("later"), "infrastructure"],
    [new ReplyError("OOM command not allowed when used memory > 'maxmemory'."), "infrastructure"],
    [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" }),
      "infrastructure",
    ],
    [new Error("Stream isn't writeable and enableOfflineQueue options is false"), "infrastructure"],
    [
      Object.assign(new Error("retries exhausted"), { name: "KafkaJSNumberOfRetriesExceeded" }),
      "infrastructure",
    ],
    [Object.assign(new Error("changed"), { name: "StoreConflictError" }), "infrastructure"],
    [new RangeError("Maximum call stack size exceeded"), "unknown"],
    [new TypeError("cannot read properties of undefined"), "unknown"],
    ["a string", "unknown"],
  ])("%s is %s", (error, origin) => {
    expect(failureOrigin(error)).toBe(origin);
  });

  it("describes and compares failures by class and message", () => {
    expect(describeFailure(new RangeError("boom"))).toBe("RangeError: boom");
    expect(sameFailure(new RangeError("boom"), new RangeError("boom"))).toBe(true);
    expect(sameFailure(new RangeError("boom"), new TypeError("boom"))).toBe(false);
  });
});
