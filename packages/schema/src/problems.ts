import { z } from "zod";

export const ProblemSchema = z.object({
  /** Dotted path of the offending field (`data.customer_id`); `(root)` for the payload as a whole. */
  path: z.string(),
  message: z.string(),
});
export type Problem = z.infer<typeof ProblemSchema>;

// Zod's default for a missing field ("expected string, received undefined") reads like a type bug to
// producers; "Required" says what to fix.
export const requiredFieldMessage = (issue: {
  readonly code?: string;
  readonly input?: unknown;
}): string | undefined =>
  issue.code === "invalid_type" && issue.input === undefined ? "Required" : undefined;

function dottedPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? "(root)" : path.map(String).join(".");
}

/** Flattens a zod error into one problem per field, so every problem is reported at once. */
export function problemsOf(error: z.ZodError): Problem[] {
  return error.issues.flatMap((issue): Problem[] => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: dottedPath([...issue.path, key]), message: "Unknown field" }));
    }
    return [{ path: dottedPath(issue.path), message: issue.message }];
  });
}

export function describeProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join("; ");
}
