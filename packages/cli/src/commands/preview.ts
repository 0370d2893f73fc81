import { readFile } from "node:fs/promises";
import type { Adapter, DeliveryRequest, PreviewRequest } from "@handoff-sync/adapters";
import {
  ConfigError,
  closestName,
  readDestinationsFile,
  routeEvent,
  withPlaceholderSecrets,
  type DestinationsFile,
} from "@handoff-sync/config";
import {
  applyEvent,
  createStateCatalogue,
  DeliveryError,
  DestinationError,
  parseHandoffEvent,
  UnknownStateError,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import { COMMON_OPTIONS, configFileOf, displayPath, parseCommandArgs, resolvePath } from "../args.js";
import { EXIT, UsageError, type CliContext, type Command, type CommandResult } from "../command.js";
import { json } from "../output.js";
import { invalidConfig } from "./config-validate.js";

const OPTIONS = {
  ...COMMON_OPTIONS,
  event: { type: "string" },
  destination: { type: "string" },
  config: { type: "string" },
} as const;

function problem(message: string, asJson: boolean): CommandResult {
  return asJson
    ? { exitCode: EXIT.problems, stdout: json({ ok: false, problems: [message] }) }
    : { exitCode: EXIT.problems, stdout: `${message}\n` };
}

/** The event file holds one event, or a list applied in order (a handoff's history so far). */
async function readEvents(context: CliContext, file: string): Promise<unknown[] | string> {
  let text: string;
  try {
    text = await readFile(resolvePath(context, file), "utf8");
  } catch (error) {
    const code = error instanceof Error && "code" in error ? String(error.code) : "unknown error";
    return `${file}: cannot read file (${code})`;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? (parsed as unknown[]) : [parsed];
  } catch (error) {
    return `${file}: not JSON (${error instanceof Error ? error.message : String(error)})`;
  }
}

/** Applies the events to an empty snapshot with the store's own pure function. */
function snapshotOf(
  config: DestinationsFile,
  events: unknown[],
  file: string,
  receivedAt: string,
): HandoffSnapshot | string {
  const catalogue = createStateCatalogue(config.states);
  let snapshot: HandoffSnapshot | undefined;
  for (const [index, raw] of events.entries()) {
    const where = events.length === 1 ? file : `${file}[${index}]`;
    const parsed = parseHandoffEvent(raw);
    if (!parsed.ok) return `${where}: not a valid handoff event: ${parsed.message}`;
    try {
      snapshot = applyEvent(snapshot, parsed.event, { catalogue, receivedAt }).snapshot;
    } catch (error) {
      if (error instanceof UnknownStateError)
        return `${where}: unknown state "${parsed.event.state}": declare it under "states" in the destinations file`;
      throw error;
    }
  }
  return snapshot ?? `${file}: no events`;
}

function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

function renderRequest(request: PreviewRequest, index: number, count: number): string {
  const lines = [
    `--- request ${index + 1} of ${count}${request.note === undefined ? "" : `: ${request.note}`} ---`,
  ];
  lines.push(`${request.method} ${request.url}`);
  for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`);
  if (request.body !== undefined) lines.push("", prettyBody(request.body));
  return `${lines.join("\n")}\n`;
}

function acceptsBatch(adapter: Adapter, request: DeliveryRequest): boolean {
  try {
    return adapter.batch?.accepts(request) === true;
  } catch {
    return false;
  }
}

export const preview: Command = {
  name: ["preview"],
  summary: "show the exact HTTP request(s) a destination would get for an event",
  usage: "preview --event FILE --destination NAME [--config FILE] [--json]",
  description: `Reads a handoff event (JSON; a list of events is applied in order), applies it to an empty
handoff exactly as the consumer would, and prints the HTTP request(s) the destination's adapter would
send for the resulting snapshot: method, URL, headers and body. Nothing is sent, no token is fetched,
and secrets are never read: credentials and signatures show as ****. Also says whether the routes
send this event to that destination.

Options:
  --event FILE        the handoff event (or list of events), as producers write it to Kafka
  --destination NAME  a destination of the destinations file
  --config FILE       the destinations file (default: $HANDOFF_SYNC_CONFIG)
  --json              print {handoff, destination, routed, requests} as JSON; bodies exactly as sent

Exit codes: 0 shown, 1 invalid config or event, 2 usage error (also an unknown destination).`,

  async run(args, context) {
    const { values } = parseCommandArgs(args, OPTIONS, { max: 0 });
    if (values.event === undefined) throw new UsageError("--event FILE is required");
    if (values.destination === undefined) throw new UsageError("--destination NAME is required");
    const given = configFileOf(context, values.config, "--config FILE");
    const name = values.destination;

    let config: DestinationsFile;
    try {
      config = await readDestinationsFile(resolvePath(context, given));
    } catch (error) {
      if (error instanceof ConfigError) return invalidConfig(context, given, error, values.json);
      throw error;
    }
    const declared = Object.keys(config.destinations);
    const destination = withPlaceholderSecrets(config).destinations[name];
    if (destination === undefined) {
      const near = closestName(name, declared);
      throw new UsageError(
        `unknown destination "${name}"${near === undefined ? "" : `; did you mean "${near}"?`} (the file declares: ${declared.join(", ") || "none"})`,
      );
    }

    const events = await readEvents(context, values.event);
    if (typeof events === "string") return problem(events, values.json);
    const snapshot = snapshotOf(
      config,
      events,
      displayPath(context, resolvePath(context, values.event)),
      new Date(context.now()).toISOString(),
    );
    if (typeof snapshot === "string") return problem(snapshot, values.json);

    const routedTo = routeEvent(config, snapshot);
    const routed = routedTo.includes(name);
    const adapter = context.createAdapter(name, destination);
    let requests: PreviewRequest[];
    // A batched destination sends this delivery inside a batch request: shown as a batch of one.
    const batch = "batch" in destination ? destination.batch : undefined;
    const request = { snapshot, destination: name };
    // A request the adapter cannot even map is not batchable; preview() below says why.
    const batched = batch !== undefined && acceptsBatch(adapter, request);
    try {
      if (adapter.preview === undefined)
        return problem(`the ${destination.type} adapter cannot preview requests yet`, values.json);
      requests =
        batched && adapter.batch !== undefined
          ? adapter.batch.previewBatch([request])
          : adapter.preview(request);
    } catch (error) {
      // What deliver would refuse too (e.g. a mapping to fields the CRM does not have): a config problem.
      if (error instanceof DeliveryError) {
        const hint = error instanceof DestinationError ? ` ${error.adminHint}` : "";
        return problem(`${name}: ${error.message}.${hint}`, values.json);
      }
      throw error;
    } finally {
      await adapter.close();
    }

    const handoff = {
      key: snapshot.key,
      version: snapshot.version,
      state: snapshot.state,
      stage: snapshot.stage,
    };
    if (values.json) {
      return {
        exitCode: EXIT.ok,
        stdout: json({
          handoff,
          destination: { name, type: destination.type },
          routed,
          routed_to: routedTo,
          ...(batched && batch !== undefined ? { batch } : {}),
          requests,
        }),
      };
    }
    const routing = routed
      ? `Routing: the routes send this event to ${name}.`
      : `Routing: the routes do not send this event to ${name} (they send it to: ${routedTo.join(", ") || "none"}); shown anyway.`;
    const header = [
      `Handoff ${handoff.key} (version ${handoff.version}, state ${handoff.state}, stage ${handoff.stage}) to ${name} (${destination.type}).`,
      routing,
      ...(batched && batch !== undefined
        ? [
            `Batching: this delivery shares one request with up to ${batch.max_size - 1} others, waiting at most ${batch.max_wait_ms} ms for them; shown as a batch of one.`,
          ]
        : []),
      "Nothing was sent; secrets are masked.",
      "",
    ].join("\n");
    return {
      exitCode: EXIT.ok,
      stdout: `${header}\n${requests.map((request, index) => renderRequest(request, index, requests.length)).join("\n")}`,
    };
  },
};
