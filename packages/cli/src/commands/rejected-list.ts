import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor } from "../api-client.js";
import { RejectedPageSchema, type RejectedRecord } from "../api-schemas.js";
import { COMMON_OPTIONS, integerOption, parseCommandArgs } from "../args.js";
import { ok, UsageError, type Command } from "../command.js";
import { cell, json, oneLine, plural, table } from "../output.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...API_OPTIONS,
  limit: { type: "string" },
  "from-offset": { type: "string" },
  partition: { type: "string" },
  reason: { type: "string" },
} as const;

/** How `rejected resend` takes a record back: `partition:offset`, as this list prints it. */
export function refOf(record: Pick<RejectedRecord, "partition" | "offset">): string {
  return `${record.partition}:${record.offset}`;
}

export const rejectedList: Command = {
  name: ["rejected", "list"],
  summary: "list events the consumer rejected, with their reasons",
  usage: "rejected list [--limit N] [--from-offset OFFSET] [--partition P] [--reason REASON] [--json]",
  description: `Reads the rejected-events topic through the admin API (nobody's consumer offsets move): for each
record its reference (PARTITION:OFFSET, what rejected resend takes), when it was rejected, why
(invalid_json, unknown_state, ...), the message key, the error and the start of the original
bytes.

Options:
  --limit N             records per partition, 1-500 (default 50)
  --from-offset OFFSET  start at this offset on each partition (default: the oldest kept)
  --partition P         only this partition
  --reason REASON       only records rejected for this reason
${API_OPTIONS_HELP}
  --json                print the API's answer, {partitions, records}

Needs a key with the read scope. Exit codes: 0 listed (even when empty), 3 the API cannot
reach Kafka.`,

  async run(args, context) {
    const { values } = parseCommandArgs(args, OPTIONS, { max: 0 });
    const query = new URLSearchParams();
    const limit = integerOption(values.limit, "--limit", { min: 1, max: 500 });
    const partition = integerOption(values.partition, "--partition", { min: 0, max: 1_000_000 });
    const from = values["from-offset"];
    if (from !== undefined && !/^\d+$/.test(from))
      throw new UsageError(`--from-offset must be a whole number; got "${from}"`);
    if (limit !== undefined) query.set("limit", String(limit));
    if (partition !== undefined) query.set("partition", String(partition));
    if (from !== undefined) query.set("offset", from);
    if (values.reason !== undefined) query.set("reason", values.reason);
    const api = await apiClientFor(context, values);
    const answer = await api.get(`/admin/v1/rejected?${query.toString()}`, RejectedPageSchema);
    if (values.json) return ok(json(answer.json));
    const { records, partitions } = answer.data;
    const next = partitions
      .filter((p) => p.next_offset !== null)
      .map(
        (p) => `partition ${p.partition}: --partition ${p.partition} --from-offset ${p.next_offset ?? ""}`,
      );
    const more = next.length > 0 ? `More records: ${next.join("; ")}\n` : "";
    if (records.length === 0)
      return ok(`No rejected events${values.reason === undefined ? "" : " match"}.\n${more}`);
    const rows = records.map((r) => [
      refOf(r),
      cell(r.rejected_at ?? r.timestamp),
      cell(r.reason),
      cell(r.key),
      oneLine(r.error ?? "-", 50),
      r.value_encoding === "base64" ? "(binary)" : oneLine(r.value_preview, 40),
    ]);
    return ok(
      `${table(["REF", "REJECTED AT", "REASON", "KEY", "ERROR", "VALUE"], rows)}\n${plural(records.length, "rejected event")}.\n${more}`,
    );
  },
};
