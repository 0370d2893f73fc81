import { AuthError, DestinationError } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { destinationCause } from "./delivery-worker.js";
import { resumesByItself } from "./operator-loop.js";

const settings = {
  probeIntervalMs: 60_000,
  autoResume: { auth: true, outage: true, quota: true, config: false },
  deadLetterThreshold: { count: 10, windowMs: 900_000 },
  quotaWarningAfterMs: 60_000,
  quotaWarningShare: 0.8,
};

describe("park causes", () => {
  it.each([
    [new AuthError("401", { status: 401, adminHint: "rotate" }), "auth"],
    [new DestinationError("503 from the CRM", { status: 503, adminHint: "-" }), "outage"],
    [new DestinationError("no answer", { adminHint: "-" }), "outage"],
    [new DestinationError("unknown object", { status: 404, adminHint: "-" }), "config"],
  ])("%s parks as %s", (error, cause) => {
    expect(destinationCause(error)).toBe(cause);
  });

  it("resumes by itself on auth, outage and quota by default; never on config, an operator's pause or an unknown cause", () => {
    expect(
      ["auth", "outage", "quota", "config", "operator", undefined].map((c) =>
        resumesByItself(c as "auth", settings),
      ),
    ).toEqual([true, true, true, false, false, false]);
    expect(
      resumesByItself("config", { ...settings, autoResume: { ...settings.autoResume, config: true } }),
    ).toBe(true);
  });
});
