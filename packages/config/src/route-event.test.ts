import { describe, expect, it } from "vitest";
import { routeEvent, type RoutingConfig } from "./route-event.js";

const destinations = { crm: {}, pager: {}, audit: {} };

describe("routeEvent", () => {
  it("sends every event everywhere when no routes are configured", () => {
    expect(routeEvent({ destinations }, { state: "handoff_initiated", stage: "initiated" })).toEqual([
      "crm",
      "pager",
      "audit",
    ]);
  });

  const config: RoutingConfig = {
    destinations,
    routes: [
      { match: { stages: ["failed"] }, destinations: ["pager", "crm"] },
      { match: { states: ["customer_refund"], channels: ["voice"] }, destinations: ["audit"] },
      { destinations: ["crm"] },
    ],
  };

  it.each([
    [{ state: "handoff_failed", stage: "failed" as const }, ["crm", "pager"]],
    [{ state: "customer_refund", stage: "initiated" as const, channel: "voice" }, ["crm", "audit"]],
    [{ state: "customer_refund", stage: "initiated" as const, channel: "chat" }, ["crm"]],
    [{ state: "customer_refund", stage: "initiated" as const }, ["crm"]],
  ])("routes %o to %o (deduplicated, config order)", (event, expected) => {
    expect(routeEvent(config, event)).toEqual(expected);
  });

  it("routes nowhere when routes is an empty list", () => {
    expect(routeEvent({ destinations, routes: [] }, { state: "handoff_failed", stage: "failed" })).toEqual(
      [],
    );
  });
});
