/** One row of the report's target table. */
export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly value: number;
  /** "invalid" when the measurement behind it does not count (open loop below 95% of its rate). */
  readonly status: "met" | "not met" | "invalid";
}
