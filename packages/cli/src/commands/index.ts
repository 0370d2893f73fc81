import type { Command } from "../command.js";
import { configSchema } from "./config-schema.js";
import { configValidate } from "./config-validate.js";
import { destinationsCheck } from "./destinations-check.js";
import { preview } from "./preview.js";

/**
 * Every command, in the order `--help` lists them. A new command (queues, dlq, rejected, destinations
 * pause|resume|backfill, handoff get, erase) is one module in this folder and one entry here;
 * groups such as `destinations` come from the command names.
 */
export const COMMANDS: readonly Command[] = [configValidate, configSchema, preview, destinationsCheck];
