import { z } from "zod";
import { InvalidCatalogueError } from "./errors.js";
import { STATE_NAME_PATTERN } from "./events.js";

/** The seed's lifecycle; every state, built-in or custom, sits at one of these stages. */
export const LifecycleStageSchema = z.enum(["initiated", "completed", "failed"]);
export type LifecycleStage = z.infer<typeof LifecycleStageSchema>;

export const LIFECYCLE_STATES = {
  handoff_initiated: "initiated",
  handoff_completed: "completed",
  handoff_failed: "failed",
} as const satisfies Record<string, LifecycleStage>;

export interface StateCatalogue {
  /** The stage of a known state; `undefined` means the event must be rejected as `unknown_state`. */
  stageOf(state: string): LifecycleStage | undefined;
  /** Every known state, lifecycle states first. */
  states(): string[];
}

/**
 * Builds the catalogue from the deployment's custom states (e.g. `customer_refund: initiated`).
 * Redefining a lifecycle state is refused: `handoff_completed` must mean the same everywhere.
 */
export function createStateCatalogue(custom: Readonly<Record<string, LifecycleStage>>): StateCatalogue {
  const problems: string[] = [];
  const stages = new Map<string, LifecycleStage>(Object.entries(LIFECYCLE_STATES));
  for (const [state, stage] of Object.entries(custom)) {
    if (Object.hasOwn(LIFECYCLE_STATES, state)) {
      problems.push(`${state}: lifecycle states cannot be redefined`);
    } else if (!STATE_NAME_PATTERN.test(state)) {
      problems.push(`${state}: state names must match ${STATE_NAME_PATTERN.source}`);
    } else if (!LifecycleStageSchema.safeParse(stage).success) {
      problems.push(`${state}: stage must be one of ${LifecycleStageSchema.options.join(", ")}`);
    } else {
      stages.set(state, stage);
    }
  }
  if (problems.length > 0) throw new InvalidCatalogueError(problems);
  return {
    stageOf: (state) => stages.get(state),
    states: () => [...stages.keys()],
  };
}

/**
 * The seed's diagram, judged on stages: a handoff starts initiated; initiated goes to completed or failed;
 * failed goes back to initiated on a retry; staying in a stage is fine (a custom state refining it).
 * Completed is final: nothing may follow it, not even another completion.
 */
export function isLegalTransition(from: LifecycleStage | undefined, to: LifecycleStage): boolean {
  switch (from) {
    case undefined:
      return to === "initiated";
    case "initiated":
      return true;
    case "failed":
      return to === "initiated" || to === "failed";
    case "completed":
      return false;
  }
}
