import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor, segment } from "../api-client.js";
import { ResumeAnswerSchema } from "../api-schemas.js";
import { COMMON_OPTIONS, parseCommandArgs, required } from "../args.js";
import { ok, type Command } from "../command.js";
import { json } from "../output.js";

const OPTIONS = { ...COMMON_OPTIONS, ...API_OPTIONS } as const;

export const destinationsResume: Command = {
  name: ["destinations", "resume"],
  summary: "resume a paused or parked destination; its backlog drains",
  usage: "destinations resume NAME [--json]",
  description: `Clears a destination's park record and resumes its queue: the backlog drains, each delivery
re-reading the handoff's latest snapshot. This is also how a destination the worker parked
(credentials, an unknown field, a quota) is released once the CRM side is fixed.

Options:
${API_OPTIONS_HELP}
  --json               print the API's answer, {destination, parked: null}

Needs a key with the operate scope. Exit codes: 0 resumed, 4 not authorised, 5 no such destination.`,

  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, OPTIONS, {
      max: 1,
      names: "one destination NAME",
    });
    const destination = required(positionals[0], "the destination NAME");
    const api = await apiClientFor(context, values);
    const answer = await api.post(
      `/admin/v1/destinations/${segment(destination)}/resume`,
      {},
      ResumeAnswerSchema,
    );
    if (values.json) return ok(json(answer.json));
    return ok(`${destination} is resumed; its waiting jobs are being delivered.\n`);
  },
};
