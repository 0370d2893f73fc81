import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor, segment } from "../api-client.js";
import { DiscardAnswerSchema } from "../api-schemas.js";
import { COMMON_OPTIONS, parseCommandArgs, required } from "../args.js";
import { EXIT, ExitError, UsageError, type Command } from "../command.js";
import { json, plural, table } from "../output.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...API_OPTIONS,
  destination: { type: "string" },
  "dry-run": { type: "boolean", default: false },
} as const;

export const dlqDiscard: Command = {
  name: ["dlq", "discard"],
  summary: "give up dead letters for good, by id",
  usage: "dlq discard --destination NAME ID... [--dry-run] [--json]",
  description: `Removes dead-lettered deliveries of one destination by entry id: the deliveries are given up,
and the audit trail records who discarded what. Discarding is final; it takes explicit ids only,
so a filter cannot remove more than was looked at (dlq list shows the ids).

Options:
  --destination NAME   the destination (required)
  --dry-run            report which ids exist and would be removed, change nothing
${API_OPTIONS_HELP}
  --json               print the API's answer, {destination, dry_run, discarded}

Needs a key with the operate scope. Exit codes: 0 every id discarded, 1 some ids were not dead
letters, 4 not authorised, 5 no such destination, or none of the ids is a dead letter.`,

  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, OPTIONS, {
      max: 10_000,
      names: "at most 10000 IDs",
    });
    const destination = required(values.destination, "--destination NAME");
    if (positionals.length === 0) throw new UsageError("name the dead letters to discard by ID");
    const ids = [...new Set(positionals)];
    const dryRun = values["dry-run"];
    const api = await apiClientFor(context, values);
    const answer = await api.post(
      `/admin/v1/destinations/${segment(destination)}/dead-letters/discard`,
      { ids, dry_run: dryRun },
      DiscardAnswerSchema,
    );
    const discarded = new Set(answer.data.discarded);
    const missing = ids.filter((id) => !discarded.has(id));
    if (discarded.size === 0)
      throw new ExitError(
        `${ids.length === 1 ? `${ids[0] ?? ""} is not a dead letter` : "none of the ids is a dead letter"} on ${destination}`,
        EXIT.notFound,
      );
    const exitCode = missing.length > 0 ? EXIT.problems : EXIT.ok;
    if (values.json) return { exitCode, stdout: json(answer.json) };
    const rows = ids.map((id) => [
      id,
      discarded.has(id) ? (dryRun ? "would discard" : "discarded") : "no such dead letter",
    ]);
    const headline = `${dryRun ? "Dry run: nothing was removed. Would discard" : "Discarded"} ${plural(discarded.size, "dead letter")} on ${destination}${missing.length > 0 ? `; ${missing.length} not found` : ""}.`;
    return { exitCode, stdout: `${table(["ID", "ACTION"], rows)}\n${headline}\n` };
  },
};
