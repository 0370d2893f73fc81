export interface ConfigProblem {
  /** The file the problem is in; absent for environment variables. */
  readonly file?: string;
  /** Environment variable name, or dotted path inside the file ("" for the whole file). */
  readonly path: string;
  readonly message: string;
  /** 1-based line in the file, when the path can be located. */
  readonly line?: number;
}

export function formatProblem(problem: ConfigProblem): string {
  const where = [problem.file, problem.path].filter((part) => part !== undefined && part !== "");
  const line = problem.line === undefined ? "" : ` (line ${problem.line})`;
  return `${[...where, problem.message].join(": ")}${line}`;
}

/** Startup must fail with every problem at once, so an operator fixes them in one go. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    const lines = problems.map((problem) => `  - ${formatProblem(problem)}`);
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`,
      options,
    );
    this.problems = problems;
  }
}
