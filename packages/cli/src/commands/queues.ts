import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor } from "../api-client.js";
import { OverviewAnswerSchema, type DestinationOverview } from "../api-schemas.js";
import { COMMON_OPTIONS, parseCommandArgs } from "../args.js";
import { ok, type Command } from "../command.js";
import { duration, json, oneLine, table } from "../output.js";

const OPTIONS = { ...COMMON_OPTIONS, ...API_OPTIONS } as const;

/** Parked outranks paused: a parked queue is paused too, and the park record says why. */
function status(row: DestinationOverview): string {
  if (row.parked !== null) return `parked by ${row.parked.by}: ${oneLine(row.parked.reason)}`;
  return row.paused ? "paused" : "running";
}

export function overviewTable(rows: readonly DestinationOverview[]): string {
  return table(
    ["DESTINATION", "WAITING", "ACTIVE", "DELAYED", "DEAD-LETTERED", "RATE-LIMITED", "OLDEST", "STATUS"],
    rows.map((row) => [
      row.destination,
      // Prioritized jobs wait too; BullMQ only keeps them in a list of their own.
      String(row.waiting + row.prioritized),
      String(row.active),
      String(row.delayed),
      String(row.dead_lettered),
      row.rate_limited ? `yes (${duration(row.rate_limit_ttl_ms)})` : "no",
      row.waiting + row.prioritized === 0 ? "-" : duration(row.oldest_waiting_age_ms),
      status(row),
    ]),
  );
}

export const queues: Command = {
  name: ["queues"],
  summary: "show every destination's queue: backlog, dead letters, parked, rate-limited",
  usage: "queues [--api-url URL] [--api-key-file FILE] [--json]",
  description: `Asks the deployment's admin API (GET /admin/v1/destinations) for each destination's delivery
queue: jobs waiting, active and delayed (retries and backoff), dead letters, whether the
destination is paused or parked (and why, and by whom), whether it is holding back after a 429,
and the age of the oldest waiting job.

Options:
${API_OPTIONS_HELP}
  --json               print the API's answer, {"destinations": [...]}

Needs a key with the read scope.`,

  async run(args, context) {
    const { values } = parseCommandArgs(args, OPTIONS, { max: 0 });
    const api = await apiClientFor(context, values);
    const answer = await api.get("/admin/v1/destinations", OverviewAnswerSchema);
    if (values.json) return ok(json(answer.json));
    if (answer.data.destinations.length === 0) return ok("No destinations are configured.\n");
    return ok(overviewTable(answer.data.destinations));
  },
};
