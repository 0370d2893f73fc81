import { describe, expect, it } from "vitest";
import { InvalidCatalogueError } from "./errors.js";
import { createStateCatalogue, isLegalTransition, LIFECYCLE_STATES, type LifecycleStage } from "./states.js";

describe("createStateCatalogue", () => {
  it("knows the lifecycle states and the custom ones", () => {
    const catalogue = createStateCatalogue({
      customer_refund: "initiated",
      complaint_escalation: "initiated",
    });
    expect(catalogue.stageOf("handoff_initiated")).toBe("initiated");
    expect(catalogue.stageOf("handoff_completed")).toBe("completed");
    expect(catalogue.stageOf("handoff_failed")).toBe("failed");
    expect(catalogue.stageOf("customer_refund")).toBe("initiated");
    expect(catalogue.stageOf("nope")).toBeUndefined();
    expect(catalogue.stageOf("toString")).toBeUndefined();
    expect(catalogue.states()).toEqual([
      ...Object.keys(LIFECYCLE_STATES),
      "customer_refund",
      "complaint_escalation",
    ]);
  });

  it("refuses to redefine a lifecycle state, listing every problem", () => {
    const build = () =>
      createStateCatalogue({
        handoff_completed: "failed",
        "Bad-Name": "initiated",
        odd: "done" as LifecycleStage,
      });
    expect(build).toThrow(InvalidCatalogueError);
    try {
      build();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidCatalogueError);
      expect((err as InvalidCatalogueError).problems).toHaveLength(3);
      expect((err as InvalidCatalogueError).retryable).toBe(false);
    }
  });
});

describe("isLegalTransition", () => {
  const cases: Array<[LifecycleStage | undefined, LifecycleStage, boolean]> = [
    [undefined, "initiated", true],
    [undefined, "completed", false],
    [undefined, "failed", false],
    ["initiated", "initiated", true],
    ["initiated", "completed", true],
    ["initiated", "failed", true],
    ["failed", "initiated", true],
    ["failed", "failed", true],
    ["failed", "completed", false],
    ["completed", "initiated", false],
    ["completed", "completed", false],
    ["completed", "failed", false],
  ];
  it.each(cases)("%s -> %s is %s", (from, to, legal) => {
    expect(isLegalTransition(from, to)).toBe(legal);
  });
});
