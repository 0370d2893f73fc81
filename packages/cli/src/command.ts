import type { Adapter, ResolvedDestination } from "@handoff-sync/adapters";

/** Documented in docs/cli.md; scripts branch on these, so they never change meaning. */
export const EXIT = {
  ok: 0,
  /** The config is invalid, a destination failed its check, an event is rejected. */
  problems: 1,
  /** Unknown command or option, a missing argument. */
  usage: 2,
  /** Cannot connect: a destination or the admin API could not be reached, or the API is unavailable. */
  unreachable: 3,
  /** The admin API refused the key: missing or invalid (401), or without the scope (403). */
  unauthorised: 4,
  /** The admin API has no such destination, dead letter or handoff. */
  notFound: 5,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface CommandResult {
  readonly exitCode: ExitCode;
  readonly stdout: string;
  readonly stderr?: string;
}

/** Everything a command reads from outside its arguments, injected so commands run in tests without spawning. */
export interface CliContext {
  /** The environment: `HANDOFF_SYNC_CONFIG` and whatever `env:` secret references name. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative paths in arguments are resolved against this. */
  readonly cwd: string;
  /** Wall clock in epoch milliseconds; fixed in tests so previews are reproducible. */
  readonly now: () => number;
  readonly createAdapter: (name: string, destination: ResolvedDestination) => Adapter;
  /**
   * Where progress bars are drawn while bulk work runs: stderr when it is a terminal. Absent for
   * pipes, files and tests, so their output holds results only.
   */
  readonly terminal?: Terminal;
}

/** The part of a TTY stream a progress bar needs. */
export interface Terminal {
  write(text: string): void;
  /** Width in characters, for fitting the bar. */
  readonly columns: number;
}

/**
 * One command. The dispatcher routes on `name` (the command words), answers `--help` from `usage`
 * and `description`, and hands `run` the arguments after the command words.
 */
export interface Command {
  readonly name: readonly string[];
  /** One line for the command list. */
  readonly summary: string;
  /** Synopsis after the program name, e.g. `config validate [FILE] [--resolve-secrets] [--json]`. */
  readonly usage: string;
  /** Options and details for `--help`. */
  readonly description: string;
  run(args: readonly string[], context: CliContext): Promise<CommandResult>;
}

/** Thrown by commands for bad invocations; the dispatcher turns it into exit code 2 with the usage line. */
export class UsageError extends Error {
  static {
    this.prototype.name = "UsageError";
  }
}

/**
 * A failure with a documented exit code other than 1 or 2 (cannot connect, not authorised, not
 * found); the dispatcher prints the message on stderr and exits with the code.
 */
export class ExitError extends Error {
  static {
    this.prototype.name = "ExitError";
  }

  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function ok(stdout: string): CommandResult {
  return { exitCode: EXIT.ok, stdout };
}
