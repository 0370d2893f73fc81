import { renderDestinationsFileJsonSchema } from "@handoff-sync/config";
import { parseCommandArgs } from "../args.js";
import { ok, type Command } from "../command.js";

export const configSchema: Command = {
  name: ["config", "schema"],
  summary: "print the JSON Schema of the destinations file",
  usage: "config schema",
  description: `Prints the JSON Schema (2020-12) of the destinations file, for editor completion and CI
checks. The same schema is committed as docs/schemas/destinations.v1.json.`,

  run(args) {
    parseCommandArgs(args, {}, { max: 0 });
    return Promise.resolve(ok(renderDestinationsFileJsonSchema()));
  },
};
