import { applyEvent, createStateCatalogue, type HandoffSnapshot } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { observeLifecycle } from "./observe.js";

const catalogue = createStateCatalogue({ customer_refund: "initiated" });

/** Applies events in the given order, returning the observation of the last. */
function observe(...steps: [eventId: string, state: string, at: string][]) {
  let snapshot: HandoffSnapshot | undefined;
  let last: ReturnType<typeof observeLifecycle> = {};
  for (const [eventId, state, at] of steps) {
    const result = applyEvent(
      snapshot,
      { schema_version: 1, event_id: eventId, id: "c1", state, occurred_at: at, data: {} },
      { catalogue, receivedAt: at },
    );
    snapshot = result.snapshot;
    last = observeLifecycle({ ...result, eventId });
  }
  return last;
}

describe("observeLifecycle", () => {
  it("a completion measures from the initiation it ends", () => {
    expect(
      observe(
        ["e1", "handoff_initiated", "2026-01-01T10:00:00Z"],
        ["e2", "handoff_completed", "2026-01-01T10:00:42.5Z"],
      ),
    ).toEqual({
      transition: { state: "handoff_completed", stage: "completed" },
      initiatedToCompletedSeconds: 42.5,
    });
  });

  it("after a failed attempt, from the retry's initiation", () => {
    expect(
      observe(
        ["e1", "handoff_initiated", "2026-01-01T10:00:00Z"],
        ["e2", "handoff_failed", "2026-01-01T10:01:00Z"],
        ["e3", "customer_refund", "2026-01-01T10:02:00Z"],
        ["e4", "handoff_completed", "2026-01-01T10:02:10Z"],
      ).initiatedToCompletedSeconds,
    ).toBe(10);
  });

  it("flags a first event that is not initiated, and a completed handoff initiated again", () => {
    expect(observe(["e1", "handoff_completed", "2026-01-01T10:00:00Z"])).toEqual({
      transition: { state: "handoff_completed", stage: "completed" },
      anomaly: "first_not_initiated",
    });
    expect(
      observe(
        ["e1", "handoff_initiated", "2026-01-01T10:00:00Z"],
        ["e2", "handoff_completed", "2026-01-01T10:01:00Z"],
        ["e3", "handoff_initiated", "2026-01-01T10:02:00Z"],
      ),
    ).toEqual({ transition: { state: "handoff_initiated", stage: "initiated" }, anomaly: "reopened" });
  });

  it("a stale event moves nothing; a duplicate says nothing", () => {
    expect(
      observe(
        ["e2", "handoff_completed", "2026-01-01T10:01:00Z"],
        ["e1", "handoff_initiated", "2026-01-01T10:00:00Z"],
      ),
    ).toEqual({});
    expect(
      observe(
        ["e1", "handoff_initiated", "2026-01-01T10:00:00Z"],
        ["e1", "handoff_initiated", "2026-01-01T10:00:00Z"],
      ),
    ).toEqual({});
  });
});
