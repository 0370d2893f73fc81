import { ConfigError, closestName, loadDestinationsFile, type LoadedConfig } from "@handoff-sync/config";
import { DeliveryError, DestinationError, RetryableDeliveryError } from "@handoff-sync/schema";
import { COMMON_OPTIONS, configFileOf, parseCommandArgs, resolvePath } from "../args.js";
import { EXIT, UsageError, type CliContext, type Command, type ExitCode } from "../command.js";
import { json, table } from "../output.js";
import { invalidConfig } from "./config-validate.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  config: { type: "string" },
  destination: { type: "string", multiple: true },
} as const;

/** `ok`: reachable and, for CRMs, credentials accepted; `failed`: it answered and said no; `unreachable`: no answer. */
export type CheckStatus = "ok" | "failed" | "unreachable" | "skipped";

export interface CheckOutcome {
  readonly destination: string;
  readonly type: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly ms: number;
}

function classify(error: unknown): { status: CheckStatus; detail: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof DestinationError)
    return { status: "failed", detail: `${message}. ${error.adminHint}` };
  // A retryable error without a status never got an HTTP answer: DNS, refused connection, timeout.
  if (error instanceof RetryableDeliveryError && error.status === undefined)
    return { status: "unreachable", detail: message };
  if (error instanceof DeliveryError) return { status: "failed", detail: message };
  return { status: "failed", detail: `unexpected error: ${message}` };
}

async function checkOne(context: CliContext, config: LoadedConfig, name: string): Promise<CheckOutcome> {
  const destination = config.destinations[name];
  if (destination === undefined) throw new RangeError(`no destination ${name}`);
  const started = context.now();
  const adapter = context.createAdapter(name, destination);
  const outcome = (status: CheckStatus, detail: string): CheckOutcome => ({
    destination: name,
    type: destination.type,
    status,
    detail,
    ms: Math.max(0, context.now() - started),
  });
  try {
    if (adapter.check === undefined)
      return outcome("skipped", `the ${destination.type} adapter cannot check yet`);
    await adapter.check();
    return outcome(
      "ok",
      destination.type === "webhook" ? "reachable (webhooks have no credentials to test)" : "authenticated",
    );
  } catch (error) {
    const { status, detail } = classify(error);
    return outcome(status, detail);
  } finally {
    await adapter.close();
  }
}

/** A definite "no" outranks "no answer": fix what is certainly wrong first. */
export function exitCodeOf(outcomes: readonly CheckOutcome[]): ExitCode {
  if (outcomes.some((o) => o.status === "failed")) return EXIT.problems;
  if (outcomes.some((o) => o.status === "unreachable")) return EXIT.unreachable;
  return EXIT.ok;
}

export const destinationsCheck: Command = {
  name: ["destinations", "check"],
  summary: "authenticate against every destination and report per destination",
  usage: "destinations check [--config FILE] [--destination NAME]... [--json]",
  description: `Loads the destinations file with its secrets and, for each destination (all at once), proves
it can be reached and that its credentials work: CRM adapters fetch a token or make a cheap
authenticated read; webhooks have no credentials, so a HEAD request that gets any HTTP answer counts
as reachable. Nothing is written to any CRM.

Options:
  --config FILE       the destinations file (default: $HANDOFF_SYNC_CONFIG)
  --destination NAME  check only this destination (repeatable)
  --json              print [{destination, type, status, detail, ms}] as JSON

Statuses: ok, failed (it answered and refused: credentials, permissions, config), unreachable (no
answer: DNS, connection, timeout), skipped (the adapter has no check yet).
Exit codes: 0 all ok or skipped, 1 invalid config or any destination failed, 2 usage error,
3 none failed but some could not be reached.`,

  async run(args, context) {
    const { values } = parseCommandArgs(args, OPTIONS, { max: 0 });
    const given = configFileOf(context, values.config, "--config FILE");
    let config: LoadedConfig;
    try {
      config = await loadDestinationsFile(resolvePath(context, given), context.env);
    } catch (error) {
      if (error instanceof ConfigError) return invalidConfig(context, given, error, values.json);
      throw error;
    }
    const declared = Object.keys(config.destinations);
    const selected = values.destination ?? declared;
    for (const name of selected) {
      if (!declared.includes(name)) {
        const near = closestName(name, declared);
        throw new UsageError(
          `unknown destination "${name}"${near === undefined ? "" : `; did you mean "${near}"?`}`,
        );
      }
    }
    const outcomes = await Promise.all(selected.map((name) => checkOne(context, config, name)));
    const exitCode = exitCodeOf(outcomes);
    if (values.json) return { exitCode, stdout: json(outcomes) };
    const rows = outcomes.map((o) => [o.destination, o.type, o.status.toUpperCase(), `${o.ms}ms`, o.detail]);
    return { exitCode, stdout: table(["DESTINATION", "TYPE", "STATUS", "TIME", "DETAIL"], rows) };
  },
};
