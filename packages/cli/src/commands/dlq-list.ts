import { DeadLetterReasonSchema } from "@handoff-sync/schema";
import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor, segment } from "../api-client.js";
import { DeadLetterPageSchema } from "../api-schemas.js";
import { COMMON_OPTIONS, instantOption, integerOption, parseCommandArgs, required } from "../args.js";
import { ok, UsageError, type Command } from "../command.js";
import { json, oneLine, plural, table } from "../output.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...API_OPTIONS,
  destination: { type: "string" },
  reason: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  limit: { type: "string" },
  offset: { type: "string" },
} as const;

export const DEAD_LETTER_REASONS = DeadLetterReasonSchema.options;

/** `--reason` checked here, so a typo is a usage error naming the valid reasons. */
export function reasonOption(value: string | undefined): (typeof DEAD_LETTER_REASONS)[number] | undefined {
  if (value === undefined) return undefined;
  const parsed = DeadLetterReasonSchema.safeParse(value);
  if (!parsed.success)
    throw new UsageError(`--reason must be one of ${DEAD_LETTER_REASONS.join(", ")}; got "${value}"`);
  return parsed.data;
}

export const dlqList: Command = {
  name: ["dlq", "list"],
  summary: "list a destination's dead letters, oldest first, with filters and paging",
  usage:
    "dlq list --destination NAME [--reason REASON] [--since ISO] [--until ISO] [--limit N] [--offset N] [--json]",
  description: `Lists the dead-lettered deliveries of one destination, oldest first: the entry id (for dlq show,
replay and discard), the handoff key, the version that failed, why (permanent: the CRM refused
the record; exhausted: retries ran out; expired: past the destination's deadline; stalled), when,
after how many attempts, and the last error.

Options:
  --destination NAME   the destination (required)
  --reason REASON      only permanent, exhausted, expired or stalled
  --since ISO          only entries dead-lettered at or after this instant
  --until ISO          only entries dead-lettered before this instant
  --limit N            entries per page, 1-1000 (default 100)
  --offset N           skip this many entries (default 0)
${API_OPTIONS_HELP}
  --json               print the API's answer, {destination, total, offset, limit, entries}

Needs a key with the read scope. Exit codes: 0 listed (even when empty), 5 no such destination.`,

  async run(args, context) {
    const { values } = parseCommandArgs(args, OPTIONS, { max: 0 });
    const destination = required(values.destination, "--destination NAME");
    const query = new URLSearchParams();
    const reason = reasonOption(values.reason);
    const since = instantOption(values.since, "--since");
    const until = instantOption(values.until, "--until");
    const limit = integerOption(values.limit, "--limit", { min: 1, max: 1000 });
    const offset = integerOption(values.offset, "--offset", { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (reason !== undefined) query.set("reason", reason);
    if (since !== undefined) query.set("since", since);
    if (until !== undefined) query.set("until", until);
    if (limit !== undefined) query.set("limit", String(limit));
    if (offset !== undefined) query.set("offset", String(offset));
    const api = await apiClientFor(context, values);
    const answer = await api.get(
      `/admin/v1/destinations/${segment(destination)}/dead-letters?${query.toString()}`,
      DeadLetterPageSchema,
    );
    if (values.json) return ok(json(answer.json));
    const page = answer.data;
    const filtered = reason !== undefined || since !== undefined || until !== undefined;
    if (page.total === 0) return ok(`No dead letters on ${destination}${filtered ? " match" : ""}.\n`);
    const rows = page.entries.map((entry) => [
      entry.id,
      entry.key,
      String(entry.version),
      entry.reason,
      entry.dead_lettered_at,
      String(entry.attempts.length),
      oneLine(entry.error),
    ]);
    const last = page.offset + page.entries.length;
    const shown =
      page.entries.length === 0
        ? `No entries from offset ${page.offset}; ${destination} has ${plural(page.total, "dead letter")} matching.\n`
        : `${plural(page.total, "dead letter")} on ${destination}; showing ${page.offset + 1}-${last}.${last < page.total ? ` Next page: --offset ${last}` : ""}\n`;
    return ok(
      `${table(["ID", "KEY", "VERSION", "REASON", "DEAD-LETTERED AT", "ATTEMPTS", "ERROR"], rows)}\n${shown}`,
    );
  },
};
