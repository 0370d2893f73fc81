import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor } from "../api-client.js";
import { ErasureAnswerSchema } from "../api-schemas.js";
import { COMMON_OPTIONS, parseCommandArgs } from "../args.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { json, table } from "../output.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...API_OPTIONS,
  "shared-id": { type: "string" },
  id: { type: "string" },
  "customer-id": { type: "string" },
  yes: { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
} as const;

export const erase: Command = {
  name: ["erase"],
  summary: "erase everything kept about a shared id, conversation id or customer id",
  usage: "erase (--shared-id ID | --id ID | --customer-id ID) (--yes | --dry-run) [--json]",
  description: `For privacy requests: removes every handoff found (a customer id finds all of the customer's
handoffs) with its history, ledger, attempt logs and index entries, its dead letters and delivery
jobs on every destination, and every audit entry naming it. The erasure itself is audited with a
fingerprint of the identifier instead of the identifier. The CRMs and the Kafka topics are not
touched (see docs/operations.md).

Erasure is final, so it refuses to run without --yes; --dry-run counts what would be removed.

Options:
  --shared-id ID       the handoff's shared_id
  --id ID              the conversation id
  --customer-id ID     every handoff whose data.customer_id is ID
  --yes                really erase
  --dry-run            count what would be removed, remove nothing
${API_OPTIONS_HELP}
  --json               print the API's answer (counts of what was removed)

Needs a key with the admin scope. Exit codes: 0 erased (or nothing was kept), 1 some deliveries
were running and could not be removed (erase again once they finished), 2 without --yes,
4 not authorised.`,

  async run(args, context) {
    const { values } = parseCommandArgs(args, OPTIONS, { max: 0 });
    const subjects = [
      ["shared_id", values["shared-id"]],
      ["id", values.id],
      ["customer_id", values["customer-id"]],
    ].filter((entry): entry is [string, string] => entry[1] !== undefined);
    const [subject] = subjects;
    if (subject === undefined || subjects.length > 1)
      throw new UsageError("give exactly one of --shared-id, --id or --customer-id");
    const dryRun = values["dry-run"];
    if (!dryRun && !values.yes)
      throw new UsageError(
        "erasure is final and cannot be undone: add --yes to erase, or --dry-run to count what would be removed",
      );
    const api = await apiClientFor(context, values);
    const answer = await api.post(
      "/admin/v1/erasure",
      { [subject[0]]: subject[1], dry_run: dryRun },
      ErasureAnswerSchema,
    );
    const r = answer.data;
    const exitCode = r.jobs_active > 0 ? EXIT.problems : EXIT.ok;
    if (values.json) return { exitCode, stdout: json(answer.json) };
    const counts = table(
      ["HANDOFFS", "REDIS KEYS", "DEAD LETTERS", "JOBS", "JOBS RUNNING", "AUDIT ENTRIES"],
      [[r.handoffs, r.redis_keys, r.dead_letters, r.jobs, r.jobs_active, r.audit_entries].map(String)],
    );
    const headline = dryRun
      ? `Dry run: nothing was removed. Erasing ${subject[0]} ${subject[1]} would remove:`
      : r.handoffs === 0
        ? `No handoff was kept for ${subject[0]} ${subject[1]}; removed:`
        : `Erased ${subject[0]} ${subject[1]}:`;
    const running =
      r.jobs_active > 0
        ? `${r.jobs_active} deliveries were running and could not be removed: erase again once they finished.\n`
        : "";
    return { exitCode, stdout: `${headline}\n${counts}${running}` };
  },
};
