import type { Command } from "../command.js";
import { configSchema } from "./config-schema.js";
import { configValidate } from "./config-validate.js";
import { destinationsBackfill } from "./destinations-backfill.js";
import { destinationsCheck } from "./destinations-check.js";
import { destinationsPause } from "./destinations-pause.js";
import { destinationsResume } from "./destinations-resume.js";
import { dlqDiscard } from "./dlq-discard.js";
import { dlqList } from "./dlq-list.js";
import { dlqReplay } from "./dlq-replay.js";
import { dlqShow } from "./dlq-show.js";
import { erase } from "./erase.js";
import { handoffGet } from "./handoff-get.js";
import { preview } from "./preview.js";
import { queues } from "./queues.js";
import { rejectedList } from "./rejected-list.js";
import { rejectedResend } from "./rejected-resend.js";

/**
 * Every command, in the order `--help` lists them: first the ones that work on a destinations
 * file, then the ones that talk to a running deployment's admin API. A new command is one module
 * in this folder and one entry here; groups such as `destinations` come from the command names.
 */
export const COMMANDS: readonly Command[] = [
  configValidate,
  configSchema,
  preview,
  destinationsCheck,
  queues,
  dlqList,
  dlqShow,
  dlqReplay,
  dlqDiscard,
  rejectedList,
  rejectedResend,
  destinationsPause,
  destinationsResume,
  destinationsBackfill,
  handoffGet,
  erase,
];
