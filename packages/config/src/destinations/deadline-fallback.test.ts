import { describe, expect, it } from "vitest";
import { DestinationsFileSchema } from "../destinations-schema.js";

const base = (retry: Record<string, unknown>) => ({
  version: 1,
  destinations: {
    crm: { type: "webhook", url: "https://crm.example/hook", secret: "env:S", retry },
    callback: { type: "webhook", url: "https://callback.example/hook", secret: "env:S" },
  },
});

describe("retry.deadline_fallback", () => {
  it("accepts another destination when a deadline is set", () => {
    expect(
      DestinationsFileSchema.safeParse(base({ deadline_ms: 60_000, deadline_fallback: "callback" })).success,
    ).toBe(true);
  });

  it("names an unknown destination, itself, or a fallback without a deadline", () => {
    const messages = (retry: Record<string, unknown>) =>
      (DestinationsFileSchema.safeParse(base(retry)).error?.issues ?? []).map(
        (i) => `${i.path.join(".")}: ${i.message}`,
      );
    expect(messages({ deadline_ms: 1000, deadline_fallback: "calback" })).toEqual([
      expect.stringMatching(
        /^destinations\.crm\.retry\.deadline_fallback\.0: unknown destination "calback".*callback/,
      ),
    ]);
    expect(messages({ deadline_ms: 1000, deadline_fallback: "crm" })).toEqual([
      "destinations.crm.retry.deadline_fallback: a destination cannot be its own deadline fallback",
    ]);
    expect(messages({ deadline_fallback: "callback" })).toEqual([
      "destinations.crm.retry.deadline_fallback: needs retry.deadline_ms: without a deadline nothing ever expires",
    ]);
  });
});
