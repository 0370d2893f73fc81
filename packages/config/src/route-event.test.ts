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

  describe("matching on the event's destination label and reason", () => {
    const labelled: RoutingConfig = {
      destinations,
      routes: [
        { match: { destinations: ["billing_queue"] }, destinations: ["crm"] },
        { match: { reasons: ["complaint", "legal"], channels: ["voice"] }, destinations: ["audit"] },
      ],
    };

    it.each([
      [{ destination: "billing_queue" }, ["crm"]],
      [{ destination: "sales_queue" }, []],
      [{}, []], // a route limited to labels never matches an event without them
      [{ reason: "complaint", channel: "voice" }, ["audit"]],
      [{ reason: "complaint", channel: "chat" }, []],
      [{ reason: "complaint", channel: "voice", destination: "billing_queue" }, ["crm", "audit"]],
    ])("routes %o to %o", (labels, expected) => {
      expect(routeEvent(labelled, { state: "handoff_initiated", stage: "initiated", ...labels })).toEqual(
        expected,
      );
    });
  });

  describe("on_failed fallbacks", () => {
    const withFallback: RoutingConfig = {
      destinations,
      routes: [{ match: { channels: ["voice"] }, destinations: ["crm"], on_failed: ["pager"] }],
    };

    it("adds the fallbacks when a matching event is at stage failed", () => {
      expect(
        routeEvent(withFallback, { state: "handoff_failed", stage: "failed", channel: "voice" }),
      ).toEqual(["crm", "pager"]);
      expect(routeEvent(withFallback, { state: "no_agent", stage: "failed", channel: "voice" })).toEqual([
        "crm",
        "pager",
      ]);
    });

    it("leaves them out for other stages and for events the route does not match", () => {
      expect(
        routeEvent(withFallback, { state: "handoff_initiated", stage: "initiated", channel: "voice" }),
      ).toEqual(["crm"]);
      expect(routeEvent(withFallback, { state: "handoff_failed", stage: "failed", channel: "chat" })).toEqual(
        [],
      );
    });
  });
});
