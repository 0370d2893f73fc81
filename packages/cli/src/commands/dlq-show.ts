import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor, segment } from "../api-client.js";
import { COMMON_OPTIONS, parseCommandArgs, required } from "../args.js";
import { DeadLetterEntrySchema } from "@handoff-sync/schema";
import { ok, type Command } from "../command.js";
import { cell, fields, json, oneLine, table } from "../output.js";

const OPTIONS = { ...COMMON_OPTIONS, ...API_OPTIONS, destination: { type: "string" } } as const;

export const dlqShow: Command = {
  name: ["dlq", "show"],
  summary: "show one dead letter with its whole attempt log",
  usage: "dlq show --destination NAME ID [--json]",
  description: `Shows one dead-lettered delivery (ID as dlq list prints it): the handoff key and version, the
reason and final error, and every attempt with its outcome, HTTP status, duration and the
allow-listed excerpt of the CRM's answer.

Options:
  --destination NAME   the destination (required)
${API_OPTIONS_HELP}
  --json               print the API's answer, the dead-letter entry

Needs a key with the read scope. Exit codes: 0 shown, 5 no such destination or entry.`,

  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, OPTIONS, { max: 1, names: "one ID" });
    const destination = required(values.destination, "--destination NAME");
    const id = required(positionals[0], "the entry ID");
    const api = await apiClientFor(context, values);
    const answer = await api.get(
      `/admin/v1/destinations/${segment(destination)}/dead-letters/${segment(id)}`,
      DeadLetterEntrySchema,
    );
    if (values.json) return ok(json(answer.json));
    const entry = answer.data;
    const details = fields([
      ["id", entry.id],
      ["destination", entry.destination],
      ["key", entry.key],
      ["version", String(entry.version)],
      ["reason", entry.reason],
      ["error", oneLine(entry.error, 200)],
      ["first attempt", cell(entry.first_attempt_at)],
      ["dead-lettered", entry.dead_lettered_at],
    ]);
    const attempts = table(
      ["ATTEMPT", "AT", "OUTCOME", "STATUS", "DURATION", "ERROR", "RESPONSE"],
      entry.attempts.map((a) => [
        String(a.attempt),
        a.at,
        a.outcome,
        cell(a.status),
        a.duration_ms === undefined ? "-" : `${Math.round(a.duration_ms)}ms`,
        oneLine(a.error, 80),
        a.response_excerpt === undefined ? "-" : oneLine(a.response_excerpt, 80),
      ]),
    );
    return ok(`${details}\n${entry.attempts.length === 0 ? "No attempts were logged.\n" : attempts}`);
  },
};
