import { describe, expect, it } from "vitest";
import { closestName, didYouMean, editDistance } from "./did-you-mean.js";

describe("editDistance", () => {
  it.each([
    ["retry", "retry", 0],
    ["retyr", "retry", 1], // one swap of neighbours, not two substitutions
    ["retr", "retry", 1],
    ["timeout", "timeout_ms", 3],
    ["", "abc", 3],
    ["kitten", "sitting", 3],
  ])("%s -> %s is %i", (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe("closestName", () => {
  const keys = ["type", "url", "secret", "timeout_ms", "concurrency", "retry", "rate_limit"];

  it.each([
    ["retyr", "retry"],
    ["secrets", "secret"],
    ["timeout", "timeout_ms"],
    ["Retry", "retry"],
    ["ratelimit", "rate_limit"],
    ["concurency", "concurrency"],
  ])("%s -> %s", (word, expected) => {
    expect(closestName(word, keys)).toBe(expected);
  });

  it("suggests nothing when nothing is close", () => {
    expect(closestName("partitions", ["topic", "rejected_topic", "max_message_bytes"])).toBeUndefined();
    expect(closestName("x", keys)).toBeUndefined();
  });

  it("prefers the nearest, then the earlier candidate", () => {
    expect(closestName("stat", ["state", "stats", "stage"])).toBe("state");
    expect(closestName("stages", ["states", "stages2"])).toBe("states");
  });

  it("formats a hint", () => {
    expect(didYouMean("retyr", keys)).toBe('; did you mean "retry"?');
    expect(didYouMean("zzz", keys)).toBe("");
  });
});
