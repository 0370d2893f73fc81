import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor, segment } from "../api-client.js";
import { BackfillAnswerSchema } from "../api-schemas.js";
import { COMMON_OPTIONS, instantOption, parseCommandArgs, required } from "../args.js";
import { ok, UsageError, type Command } from "../command.js";
import { json, table } from "../output.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...API_OPTIONS,
  since: { type: "string" },
  until: { type: "string" },
  "dry-run": { type: "boolean", default: false },
} as const;

export const destinationsBackfill: Command = {
  name: ["destinations", "backfill"],
  summary: "send a newly added destination the handoffs of a time range",
  usage: "destinations backfill NAME --since ISO --until ISO [--dry-run] [--json]",
  description: `Enqueues to one destination every handoff created in [--since, --until), for a destination added
after those handoffs happened. Each handoff's latest snapshot is sent; the destinations file's
routes are honoured (not routed) and handoffs the destination already has are skipped (already
delivered). Run with --dry-run first: it returns the counts and sends nothing. Deploy the
destination to the worker before backfilling, or the jobs wait.

Options:
  --since ISO          first creation instant, included (required)
  --until ISO          last creation instant, excluded (required)
  --dry-run            count what would be enqueued, send nothing
${API_OPTIONS_HELP}
  --json               print the API's answer, {destination, dry_run, matched, enqueued,
                       already_delivered, not_routed, missing}

Needs a key with the operate scope. Exit codes: 0 done, 2 a bad range, 4 not authorised, 5 no
such destination.`,

  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, OPTIONS, {
      max: 1,
      names: "one destination NAME",
    });
    const destination = required(positionals[0], "the destination NAME");
    const from = required(instantOption(values.since, "--since"), "--since ISO");
    const to = required(instantOption(values.until, "--until"), "--until ISO");
    if (Date.parse(from) >= Date.parse(to)) throw new UsageError("--since must be before --until");
    const api = await apiClientFor(context, values);
    const answer = await api.post(
      `/admin/v1/destinations/${segment(destination)}/backfill`,
      { from, to, dry_run: values["dry-run"] },
      BackfillAnswerSchema,
    );
    if (values.json) return ok(json(answer.json));
    const r = answer.data;
    const counts = table(
      ["MATCHED", r.dry_run ? "WOULD ENQUEUE" : "ENQUEUED", "ALREADY DELIVERED", "NOT ROUTED", "MISSING"],
      [[r.matched, r.enqueued, r.already_delivered, r.not_routed, r.missing].map(String)],
    );
    const headline = r.dry_run
      ? `Dry run: nothing was enqueued. Backfill of ${destination} for handoffs created in [${from}, ${to}):`
      : `Backfill of ${destination} for handoffs created in [${from}, ${to}):`;
    return ok(`${headline}\n${counts}`);
  },
};
