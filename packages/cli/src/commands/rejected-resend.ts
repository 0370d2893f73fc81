import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor } from "../api-client.js";
import { ResendAnswerSchema } from "../api-schemas.js";
import { COMMON_OPTIONS, parseCommandArgs } from "../args.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { cell, json, table } from "../output.js";
import { refOf } from "./rejected-list.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...API_OPTIONS,
  "dry-run": { type: "boolean", default: false },
} as const;

/** The API takes at most this many records per call. */
const MAX_REFS = 1000;

function parseRef(ref: string): { partition: number; offset: string } {
  const match = /^(\d+):(\d+)$/.exec(ref);
  const partition = Number(match?.[1]);
  if (match?.[2] === undefined || !Number.isSafeInteger(partition))
    throw new UsageError(
      `a record reference is PARTITION:OFFSET as rejected list prints it, e.g. 0:12; got "${ref}"`,
    );
  return { partition, offset: match[2] };
}

export const rejectedResend: Command = {
  name: ["rejected", "resend"],
  summary: "re-send rejected events to their source topic after a fix",
  usage: "rejected resend REF... [--dry-run] [--json]",
  description: `Produces each named rejected record (REF is PARTITION:OFFSET, as rejected list prints it) back
to the topic it came from, with its original key, bytes and headers, where it is parsed and
validated again like any event. Use it once the cause is fixed: a state declared in the
destinations file (and the consumer restarted), a producer bug fixed upstream. A record that is
still invalid is rejected again.

Options:
  --dry-run            report what would be re-sent, send nothing
${API_OPTIONS_HELP}
  --json               print the API's answer, {dry_run, items}

Needs a key with the operate scope. Exit codes: 0 every record re-sent, 1 some were not found
(past retention), 3 the API cannot reach Kafka, 4 not authorised.`,

  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, OPTIONS, {
      max: MAX_REFS,
      names: `at most ${MAX_REFS} REFs`,
    });
    if (positionals.length === 0) throw new UsageError("name the records to re-send as PARTITION:OFFSET");
    const records = [...new Set(positionals)].map(parseRef);
    const api = await apiClientFor(context, values);
    const answer = await api.post(
      "/admin/v1/rejected/resend",
      { records, dry_run: values["dry-run"] },
      ResendAnswerSchema,
    );
    const exitCode = answer.data.items.some((item) => item.action === "not_found") ? EXIT.problems : EXIT.ok;
    if (values.json) return { exitCode, stdout: json(answer.json) };
    const rows = answer.data.items.map((item) => [
      refOf(item),
      cell(item.topic),
      item.action === "not_found" ? "not found (past retention?)" : item.action.replace("_", " "),
    ]);
    const note = values["dry-run"] ? "Dry run: nothing was sent.\n" : "";
    return { exitCode, stdout: `${table(["REF", "TOPIC", "ACTION"], rows)}${note}` };
  },
};
