import { describe, expect, it } from "vitest";
import { EXCERPT_BYTES, redactSecrets, responseExcerpt } from "./response-excerpt.js";

describe("redactSecrets", () => {
  it.each([
    ['{"error":"bad","access_token":"abc.def"}', '{"error":"bad","access_token":"[REDACTED]"}'],
    ['{"client_secret": "s3cr3t", "ok": 1}', '{"client_secret": "[REDACTED]", "ok": 1}'],
    ['{"apiKey":12345}', '{"apiKey":"[REDACTED]"}'],
    ['{"X-Api-Key":"k"}', '{"X-Api-Key":"[REDACTED]"}'],
    ["password=hunter2&user=bob", "password=[REDACTED]&user=bob"],
    ["Authorization: Bearer eyJabc.def.ghi", "Authorization: [REDACTED] [REDACTED]"],
    ["got Bearer abc123== from you", "got Bearer [REDACTED] from you"],
    ["secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw leaked", "secret [REDACTED] leaked"],
    ['{"message":"validation failed","field":"email"}', '{"message":"validation failed","field":"email"}'],
  ])("%s", (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });
});

describe("responseExcerpt", () => {
  it("keeps the first 512 bytes", () => {
    expect(Buffer.byteLength(responseExcerpt(Buffer.from("x".repeat(2_000))))).toBe(EXCERPT_BYTES);
  });

  it("redacts a token that straddles the cut", () => {
    const body = `${"x".repeat(EXCERPT_BYTES - 20)}{"token":"${"t".repeat(100)}"}`;
    expect(responseExcerpt(Buffer.from(body))).not.toContain("tttt");
  });

  it("does not end in half a character", () => {
    expect(responseExcerpt(Buffer.from("é".repeat(400)))).toMatch(/^é+$/);
  });
});
