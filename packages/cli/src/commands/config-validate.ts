import {
  ConfigError,
  loadDestinationsFile,
  readDestinationsFile,
  type DestinationsFile,
  type LoadedConfig,
  type RateLimit,
} from "@handoff-sync/config";
import { COMMON_OPTIONS, configFileOf, displayPath, parseCommandArgs, resolvePath } from "../args.js";
import { EXIT, type CliContext, type Command, type CommandResult } from "../command.js";
import { json, plural, problemLines, table } from "../output.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  "resolve-secrets": { type: "boolean", default: false },
} as const;

/** What every destination type shares (destinationBase), with or without its secrets resolved. */
interface DestinationBasics {
  readonly type: string;
  readonly concurrency: number;
  readonly rate_limit?: RateLimit | undefined;
  readonly retry: { readonly attempts: number; readonly deadline_ms?: number | undefined };
}

function summary(destinations: Readonly<Record<string, DestinationBasics>>) {
  return Object.entries(destinations).map(([name, destination]) => ({
    name,
    type: destination.type,
    concurrency: destination.concurrency,
    rate_limit: destination.rate_limit ?? null,
    attempts: destination.retry.attempts,
    deadline_ms: destination.retry.deadline_ms ?? null,
  }));
}

/** Problems keep the file as the user named it, so the output links back to what they typed. */
export function invalidConfig(
  context: CliContext,
  file: string,
  error: ConfigError,
  asJson: boolean,
): CommandResult {
  const problems = error.problems.map((problem) =>
    problem.file === undefined ? problem : { ...problem, file: displayPath(context, problem.file) },
  );
  if (asJson) return { exitCode: EXIT.problems, stdout: json({ valid: false, file, problems }) };
  return {
    exitCode: EXIT.problems,
    stdout: `${file} is invalid (${plural(problems.length, "problem")}):\n${problemLines(problems)}`,
  };
}

export const configValidate: Command = {
  name: ["config", "validate"],
  summary: "check a destinations file and list every problem",
  usage: "config validate [FILE] [--resolve-secrets] [--json]",
  description: `Validates the destinations file FILE (default: $HANDOFF_SYNC_CONFIG): its YAML, every key and
value, cross references (routes naming unknown destinations or states) and the form of secret
references. Secrets themselves are not read unless --resolve-secrets is given, so the file can be
checked on a machine (or in CI) that does not hold them.

Options:
  --resolve-secrets  also read every env: and file: reference and report those that are missing
  --json             print {valid, file, destinations | problems} as JSON

Exit codes: 0 valid, 1 invalid (problems listed), 2 usage error.`,

  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, OPTIONS, { max: 1, names: "FILE" });
    const given = configFileOf(context, positionals[0], "FILE");
    const path = resolvePath(context, given);
    let config: DestinationsFile | LoadedConfig;
    try {
      config = values["resolve-secrets"]
        ? await loadDestinationsFile(path, context.env)
        : await readDestinationsFile(path);
    } catch (error) {
      if (error instanceof ConfigError) return invalidConfig(context, given, error, values.json);
      throw error;
    }
    const destinations = summary(config.destinations);
    if (values.json) {
      return {
        exitCode: EXIT.ok,
        stdout: json({ valid: true, file: given, secrets_resolved: values["resolve-secrets"], destinations }),
      };
    }
    const routes =
      config.routes === undefined
        ? "no routes (every destination gets every event)"
        : plural(config.routes.length, "route");
    const lines = [
      `${given} is valid: ${plural(destinations.length, "destination")}, ${routes}, ${plural(Object.keys(config.states).length, "custom state")}.`,
      values["resolve-secrets"]
        ? "Every secret reference resolved."
        : "Secret references were checked for form only; --resolve-secrets reads them.",
      "",
    ];
    const rows = destinations.map((d) => [
      d.name,
      d.type,
      String(d.concurrency),
      d.rate_limit === null ? "-" : `${d.rate_limit.max}/${d.rate_limit.duration_ms}ms`,
      String(d.attempts),
      d.deadline_ms === null ? "-" : `${d.deadline_ms}ms`,
    ]);
    return {
      exitCode: EXIT.ok,
      stdout: `${lines.join("\n")}\n${table(["DESTINATION", "TYPE", "CONCURRENCY", "RATE LIMIT", "ATTEMPTS", "DEADLINE"], rows)}`,
    };
  },
};
