import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor, segment } from "../api-client.js";
import { PauseAnswerSchema } from "../api-schemas.js";
import { COMMON_OPTIONS, parseCommandArgs, required } from "../args.js";
import { ok, UsageError, type Command } from "../command.js";
import { json } from "../output.js";

const OPTIONS = { ...COMMON_OPTIONS, ...API_OPTIONS, reason: { type: "string" } } as const;

export const destinationsPause: Command = {
  name: ["destinations", "pause"],
  summary: "pause (park) a destination: its jobs wait, others keep flowing",
  usage: "destinations pause NAME [--reason TEXT] [--json]",
  description: `Parks one destination: its delivery queue is paused, jobs wait (nothing is dead-lettered) and
every other destination keeps flowing. The park record names the reason and the API key that
paused it; queues shows it. Pausing a parked destination keeps the first record, which names
the original cause. destinations resume releases it.

Options:
  --reason TEXT        why, for whoever looks next (default: "paused by an operator")
${API_OPTIONS_HELP}
  --json               print the API's answer, {destination, parked}

Needs a key with the operate scope. Exit codes: 0 paused, 4 not authorised, 5 no such destination.`,

  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, OPTIONS, {
      max: 1,
      names: "one destination NAME",
    });
    const destination = required(positionals[0], "the destination NAME");
    if (values.reason?.trim() === "") throw new UsageError("--reason must not be empty");
    const api = await apiClientFor(context, values);
    const answer = await api.post(
      `/admin/v1/destinations/${segment(destination)}/pause`,
      values.reason === undefined ? {} : { reason: values.reason },
      PauseAnswerSchema,
    );
    if (values.json) return ok(json(answer.json));
    const park = answer.data.parked;
    return ok(
      `${destination} is parked since ${park.parked_at} by ${park.by}: ${park.reason}\nResume it with: handoff-sync destinations resume ${destination}\n`,
    );
  },
};
