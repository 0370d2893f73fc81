import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor } from "../api-client.js";
import { HandoffAnswerSchema, type DeliveryStatus, type HandoffAnswer } from "../api-schemas.js";
import { COMMON_OPTIONS, parseCommandArgs } from "../args.js";
import { ok, UsageError, type Command } from "../command.js";
import { cell, fields, json, oneLine, table } from "../output.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...API_OPTIONS,
  "shared-id": { type: "string" },
  id: { type: "string" },
} as const;

/** The one detail that matters most for each status: what arrived, what waits, or why it stopped. */
function detail(delivery: DeliveryStatus): string {
  switch (delivery.status) {
    case "delivered":
      return delivery.delivered === null
        ? "-"
        : `v${delivery.delivered.version} at ${delivery.delivered.delivered_at}${delivery.delivered.record_id === null ? "" : `, record ${delivery.delivered.record_id}`}`;
    case "pending":
    case "retrying":
      return delivery.pending_job === null ? "-" : `job ${delivery.pending_job.state}`;
    case "parked":
      return delivery.parked === null
        ? "-"
        : `parked by ${delivery.parked.by}: ${oneLine(delivery.parked.reason, 80)}`;
    case "dead_lettered":
      return delivery.dead_letter === null
        ? "-"
        : `${delivery.dead_letter.id} (${delivery.dead_letter.reason}): ${oneLine(delivery.dead_letter.error, 80)}`;
    case "not_sent":
      return "no delivery yet (not routed here, or before this destination existed)";
  }
}

function lastAttempt(delivery: DeliveryStatus): string {
  const attempt = delivery.last_attempt;
  if (attempt === null) return "-";
  return `#${attempt.attempt} ${attempt.outcome}${attempt.status === undefined ? "" : ` ${attempt.status}`} at ${attempt.at}`;
}

export function handoffText(handoff: HandoffAnswer): string {
  const head = fields([
    ["id", handoff.id],
    ["shared_id", cell(handoff.shared_id)],
    ["key", handoff.key],
    ["state", `${handoff.state} (${handoff.stage})`],
    ["version", String(handoff.version)],
    ["occurred", handoff.occurred_at],
    ["updated", cell(handoff.updated_at)],
  ]);
  const history = table(
    ["#", "STATE", "OCCURRED AT", "RECEIVED AT", "EVENT ID", "NOTE"],
    handoff.history.map((entry, index) => [
      String(index + 1),
      entry.state,
      entry.occurred_at,
      cell(entry.received_at),
      entry.event_id,
      cell(entry.anomaly),
    ]),
  );
  const deliveries = table(
    ["DESTINATION", "STATUS", "UP TO DATE", "LAST ATTEMPT", "DETAIL"],
    handoff.deliveries.map((d) => [
      d.destination,
      d.status,
      d.up_to_date ? "yes" : "no",
      lastAttempt(d),
      detail(d),
    ]),
  );
  return `${head}\nHistory:\n${history}\nDeliveries:\n${deliveries}`;
}

export const handoffGet: Command = {
  name: ["handoff", "get"],
  summary: "show a handoff: state, version, history and each destination's delivery",
  usage: "handoff get (--shared-id ID | --id ID) [--json]",
  description: `Finds one handoff by its shared id or its conversation id and shows its state, version and
history, and for each destination whether it was delivered (version, CRM record id), is pending,
retrying, parked or dead-lettered, with the last attempt: the answer to "did this handoff reach
every CRM?" (every destination delivered and up to date).

Options:
  --shared-id ID       the handoff's shared_id
  --id ID              the conversation id (used when --shared-id is not given)
${API_OPTIONS_HELP}
  --json               print the API's answer (GET /v1/handoffs)

Needs a key with the read scope. Exit codes: 0 found, 4 not authorised, 5 no such handoff.`,

  async run(args, context) {
    const { values } = parseCommandArgs(args, OPTIONS, { max: 0 });
    const query = new URLSearchParams();
    if (values["shared-id"] !== undefined) query.set("shared_id", values["shared-id"]);
    else if (values.id !== undefined) query.set("id", values.id);
    else throw new UsageError("give --shared-id ID or --id ID");
    const api = await apiClientFor(context, values);
    const answer = await api.get(`/v1/handoffs?${query.toString()}`, HandoffAnswerSchema);
    return ok(values.json ? json(answer.json) : handoffText(answer.data));
  },
};
