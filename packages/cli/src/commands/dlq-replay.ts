import { API_OPTIONS, API_OPTIONS_HELP, apiClientFor, segment, type ApiClient } from "../api-client.js";
import { DeadLetterPageSchema, ReplayAnswerSchema, type ReplayItem } from "../api-schemas.js";
import { COMMON_OPTIONS, instantOption, parseCommandArgs, required } from "../args.js";
import { EXIT, ExitError, UsageError, type CommandResult, type Command } from "../command.js";
import { createProgress } from "../progress.js";
import { json, plural, table } from "../output.js";
import { reasonOption } from "./dlq-list.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...API_OPTIONS,
  destination: { type: "string" },
  reason: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  all: { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
} as const;

/** Ids per replay call: small enough for the bar to move and for one call to finish well within its timeout. */
export const REPLAY_CHUNK = 100;
const LIST_PAGE = 1000;

/** What the CLI shows for each entry it asked about; `not_found` entries were gone by the time of the call. */
type Outcome = ReplayItem["action"] | "not_found";

function actionText(outcome: Outcome, dryRun: boolean): string {
  switch (outcome) {
    case "enqueue":
      return dryRun ? "would send" : "sent";
    case "already_delivered":
      return dryRun ? "already delivered (would remove)" : "already delivered (removed)";
    case "missing":
      return "handoff gone (entry kept)";
    case "not_found":
      return "no such dead letter";
  }
}

/** The ids a filter or `--all` selects, read page by page before anything is replayed. */
async function selectedIds(api: ApiClient, destination: string, filter: URLSearchParams): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += LIST_PAGE) {
    const query = new URLSearchParams(filter);
    query.set("offset", String(offset));
    query.set("limit", String(LIST_PAGE));
    const page = await api.get(
      `/admin/v1/destinations/${segment(destination)}/dead-letters?${query.toString()}`,
      DeadLetterPageSchema,
    );
    ids.push(...page.data.entries.map((entry) => entry.id));
    if (page.data.entries.length < LIST_PAGE || offset + LIST_PAGE >= page.data.total) return ids;
  }
}

function report(
  destination: string,
  dryRun: boolean,
  items: readonly ReplayItem[],
  notFound: readonly string[],
): string {
  const rows = [
    ...items.map((item) => [
      item.id,
      item.key,
      String(item.deadLetteredVersion),
      item.action === "missing" ? "-" : String(item.sendVersion ?? "-"),
      actionText(item.action, dryRun),
    ]),
    ...notFound.map((id) => [id, "-", "-", "-", actionText("not_found", dryRun)]),
  ];
  const count = (action: ReplayItem["action"]) => items.filter((item) => item.action === action).length;
  const sent = count("enqueue");
  const summary = [
    `${dryRun ? "would send" : "sent"} ${sent}`,
    `already delivered ${count("already_delivered")}`,
    `handoff gone ${count("missing")}`,
    ...(notFound.length > 0 ? [`not found ${notFound.length}`] : []),
  ].join(", ");
  const headline = dryRun
    ? `Dry run: nothing was sent or removed. ${plural(items.length + notFound.length, "dead letter")} on ${destination}: ${summary}.`
    : `${plural(items.length + notFound.length, "dead letter")} on ${destination}: ${summary}.`;
  return `${table(["ID", "KEY", "DEAD-LETTERED V", "SENDS V", "ACTION"], rows)}\n${headline}\n`;
}

export const dlqReplay: Command = {
  name: ["dlq", "replay"],
  summary: "re-send dead letters (by id, by filter, or all), with a dry run",
  usage:
    "dlq replay --destination NAME (ID... | [--reason REASON] [--since ISO] [--until ISO] | --all) [--dry-run] [--json]",
  description: `Replays dead-lettered deliveries of one destination: each sends the handoff's latest snapshot
under its normal job id (replaying twice sends once) and removes the entry. An entry whose
destination already has that version is resolved without sending; one whose handoff is gone
(retention, erasure) is kept and reported. Fix the cause first.

Select exactly one way: entry IDs, a filter (any of --reason, --since, --until), or --all. A
filter or --all is resolved to ids first (what you see is what is replayed), then replayed in
chunks of ${REPLAY_CHUNK} with a progress bar on a terminal.

Options:
  --destination NAME   the destination (required)
  --reason REASON      entries dead-lettered as permanent, exhausted, expired or stalled
  --since ISO          entries dead-lettered at or after this instant
  --until ISO          entries dead-lettered before this instant
  --all                every entry of the destination
  --dry-run            report what would be sent, change nothing
${API_OPTIONS_HELP}
  --json               print {destination, dry_run, items, not_found}: the API's items, and the
                       ids that were not (or no longer) dead letters

Needs a key with the operate scope. Exit codes: 0 every entry sent or resolved, 1 some were
not (handoff gone, no such entry, or the run stopped part-way), 4 not authorised, 5 no such
destination, or none of the IDs is a dead letter.`,

  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, OPTIONS, { max: Number.MAX_SAFE_INTEGER });
    const destination = required(values.destination, "--destination NAME");
    const dryRun = values["dry-run"];
    const filter = new URLSearchParams();
    const reason = reasonOption(values.reason);
    const since = instantOption(values.since, "--since");
    const until = instantOption(values.until, "--until");
    if (reason !== undefined) filter.set("reason", reason);
    if (since !== undefined) filter.set("since", since);
    if (until !== undefined) filter.set("until", until);
    const ways = [positionals.length > 0, filter.size > 0, values.all].filter(Boolean).length;
    if (ways !== 1)
      throw new UsageError(
        "select exactly one way: entry IDs, a filter (--reason, --since, --until) or --all",
      );

    const api = await apiClientFor(context, values);
    const byIds = positionals.length > 0;
    const ids = byIds ? [...new Set(positionals)] : await selectedIds(api, destination, filter);
    if (ids.length === 0) {
      if (values.json)
        return {
          exitCode: EXIT.ok,
          stdout: json({ destination, dry_run: dryRun, items: [], not_found: [] }),
        };
      return {
        exitCode: EXIT.ok,
        stdout: `No dead letters on ${destination}${values.all ? "" : " match"}; nothing to replay.\n`,
      };
    }

    const items: ReplayItem[] = [];
    const progress = createProgress(context.terminal, dryRun ? "Checking" : "Replaying", ids.length);
    let stopped: ExitError | Error | undefined;
    let done = 0;
    for (let start = 0; start < ids.length; start += REPLAY_CHUNK) {
      const chunk = ids.slice(start, start + REPLAY_CHUNK);
      try {
        const answer = await api.post(
          `/admin/v1/destinations/${segment(destination)}/dead-letters/replay`,
          { ids: chunk, dry_run: dryRun },
          ReplayAnswerSchema,
        );
        items.push(...answer.data.items);
      } catch (error) {
        // Before anything was replayed the error is the whole story; after, what was done is shown with it.
        if (start === 0) {
          progress.finish();
          throw error;
        }
        stopped = error instanceof Error ? error : new Error(String(error));
        break;
      }
      done = start + chunk.length;
      progress.update(done);
    }
    progress.finish();

    const answered = new Set(items.map((item) => item.id));
    const notFound = ids.slice(0, done).filter((id) => !answered.has(id));
    if (byIds && stopped === undefined && items.length === 0)
      throw new ExitError(
        `${ids.length === 1 ? `${ids[0] ?? ""} is not a dead letter` : "none of the ids is a dead letter"} on ${destination}`,
        EXIT.notFound,
      );
    const failed = notFound.length > 0 || items.some((item) => item.action === "missing");
    const result: CommandResult = {
      exitCode: stopped !== undefined || failed ? EXIT.problems : EXIT.ok,
      stdout: values.json
        ? json({ destination, dry_run: dryRun, items, not_found: notFound })
        : report(destination, dryRun, items, notFound),
    };
    if (stopped === undefined) return result;
    return {
      ...result,
      stderr: `handoff-sync dlq replay: stopped after ${done} of ${ids.length}: ${stopped.message}\n`,
    };
  },
};
