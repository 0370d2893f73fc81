import { closestName } from "@handoff-sync/config";
import { EXIT, ExitError, UsageError, type CliContext, type Command, type CommandResult } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { table } from "./output.js";

export const PROGRAM = "handoff-sync";

export function usage(commands: readonly Command[] = COMMANDS): string {
  const rows = commands.map((command) => [`  ${command.name.join(" ")}`, command.summary]);
  return `usage: ${PROGRAM} <command> [options]

Commands:
${table(["", ""], rows).split("\n").slice(1).join("\n")}
Run "${PROGRAM} <command> --help" for a command's options.
Exit codes: 0 ok, 1 problems found or failed, 2 usage error, 3 cannot connect, 4 not authorised,
5 not found (see docs/cli.md).
`;
}

function commandHelp(command: Command): string {
  return `usage: ${PROGRAM} ${command.usage}\n\n${command.summary[0]?.toUpperCase() ?? ""}${command.summary.slice(1)}.\n\n${command.description}\n`;
}

function usageError(message: string, synopsis: string): CommandResult {
  return { exitCode: EXIT.usage, stdout: "", stderr: `${PROGRAM}: ${message}\n${synopsis}` };
}

/** The command whose words start argv, the longest first (`destinations check` before a future `destinations`). */
function findCommand(argv: readonly string[], commands: readonly Command[]): Command | undefined {
  return [...commands]
    .sort((a, b) => b.name.length - a.name.length)
    .find((command) => command.name.every((word, index) => argv[index] === word));
}

function notACommand(argv: readonly string[], commands: readonly Command[]): CommandResult {
  const first = argv[0] ?? "";
  const group = commands.filter((command) => command.name.length > 1 && command.name[0] === first);
  if (group.length > 0) {
    const given = argv[1];
    const subcommands = group.map((command) => command.name.slice(1).join(" "));
    const near = given === undefined ? undefined : closestName(given, subcommands);
    const what =
      given === undefined ? `"${first}" needs a subcommand` : `unknown command "${first} ${given}"`;
    return usageError(
      `${what}${near === undefined ? "" : `; did you mean "${first} ${near}"?`}`,
      group.map((command) => `usage: ${PROGRAM} ${command.usage}\n`).join(""),
    );
  }
  const names = [...new Set(commands.map((command) => command.name[0] ?? ""))];
  const near = closestName(first, names);
  return usageError(
    `unknown command "${first}"${near === undefined ? "" : `; did you mean "${near}"?`}`,
    usage(commands),
  );
}

/**
 * Routes argv (without the program name) to a command and runs it. Never throws for bad input:
 * usage errors come back as exit code 2, an ExitError with its own code, other failures as exit
 * code 1 with the message.
 */
export async function runCli(
  argv: readonly string[],
  context: CliContext,
  commands: readonly Command[] = COMMANDS,
): Promise<CommandResult> {
  const [first] = argv;
  if (first === undefined) return { exitCode: EXIT.usage, stdout: "", stderr: usage(commands) };
  if (first === "--help" || first === "-h" || first === "help") {
    const command = findCommand(argv.slice(1), commands);
    if (command !== undefined) return { exitCode: EXIT.ok, stdout: commandHelp(command) };
    return argv.length > 1
      ? notACommand(argv.slice(1), commands)
      : { exitCode: EXIT.ok, stdout: usage(commands) };
  }
  const command = findCommand(argv, commands);
  if (command === undefined) return notACommand(argv, commands);
  const args = argv.slice(command.name.length);
  // Only before a `--` terminator: after it, `--help` is an argument like any other.
  const options = args.includes("--") ? args.slice(0, args.indexOf("--")) : args;
  if (options.includes("--help") || options.includes("-h"))
    return { exitCode: EXIT.ok, stdout: commandHelp(command) };
  try {
    return await command.run(args, context);
  } catch (error) {
    if (error instanceof UsageError)
      return usageError(
        `${command.name.join(" ")}: ${error.message}`,
        `usage: ${PROGRAM} ${command.usage}\n`,
      );
    const message = error instanceof Error ? error.message : String(error);
    return {
      exitCode: error instanceof ExitError ? error.exitCode : EXIT.problems,
      stdout: "",
      stderr: `${PROGRAM} ${command.name.join(" ")}: ${message}\n`,
    };
  }
}
