import { z } from "zod";
import { describeProblems, problemsOf, requiredFieldMessage, type Problem } from "./problems.js";

/** Snake_case state names keep CRM picklist values and metric labels predictable. */
export const STATE_NAME_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

export const StateNameSchema = z
  .string()
  .regex(STATE_NAME_PATTERN, "Must be snake_case: a lowercase letter, then up to 63 of a-z, 0-9 or _");

// Identifiers become Redis keys, BullMQ job ids, URL path segments and CRM external ids. A lone UTF-16
// surrogate survives none of those intact; control characters (NUL, newlines, DEL, C1), line and
// paragraph separators and Unicode noncharacters are refused by CRMs or change meaning in logs, CSV
// exports and HTTP headers.
const UNFIT_IN_IDENTIFIER = /[\p{Cc}\u2028\u2029\uFDD0-\uFDEF\uFFFE\uFFFF]/u;

/** Why a string cannot be an identifier, naming the first offending character; undefined when it can. */
export function identifierProblem(value: string): string | undefined {
  if (!value.isWellFormed()) return "Must be well-formed Unicode (it has a lone surrogate)";
  const match = UNFIT_IN_IDENTIFIER.exec(value);
  if (match === null) return undefined;
  const code = (match[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
  return `Must not contain control characters, line separators or noncharacters (U+${code} at position ${match.index})`;
}

const identifier = (description: string) =>
  z
    .string()
    .min(1, "Must not be empty")
    .max(200, "Must be at most 200 characters")
    .superRefine((value, ctx) => {
      const problem = identifierProblem(value);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    })
    .describe(description);

const label = (description: string) =>
  z.string().max(200, "Must be at most 200 characters").describe(description);

/**
 * A handoff event as producers write it to `handoff.events`. Unknown top-level fields are rejected rather
 * than stripped: a silently dropped field hides a producer's typo (`sharedId`) until a CRM record is wrong.
 * Free-form content belongs in `data`.
 */
export const HandoffEventSchema = z
  .strictObject({
    schema_version: z
      .literal(1)
      .default(1)
      .describe("Version of this contract. Omit or send 1; readers reject versions they do not know."),
    event_id: identifier(
      "Unique id of this event, stable across retries by the producer. Duplicates are ignored.",
    ),
    id: identifier("The platform's conversation id."),
    shared_id: identifier(
      "The id both the platform and the client system know. When present it is the handoff key.",
    ).optional(),
    state: StateNameSchema.describe(
      "handoff_initiated, handoff_completed, handoff_failed, or a custom state declared in the state catalogue.",
    ),
    occurred_at: z.iso
      .datetime({ offset: true })
      .describe(
        "When the state change happened, ISO 8601 with Z or an offset. Orders the handoff's history.",
      ),
    data: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        "Context for the live agent (customer id, verification status, entities); merged across events.",
      ),
    channel: label("Channel of the conversation, e.g. voice, webchat, sms.").optional(),
    destination: label("Where the conversation was handed off to, e.g. live_agent_queue.").optional(),
    reason: label("Why the handoff happened, e.g. billing_question.").optional(),
  })
  .meta({
    title: "Handoff event v1",
    description: "One state change of an AI-to-human handoff, as written to the handoff.events Kafka topic.",
  });

export type HandoffEvent = z.infer<typeof HandoffEventSchema>;
export type HandoffEventInput = z.input<typeof HandoffEventSchema>;

export type ParseHandoffEventResult =
  | { ok: true; event: HandoffEvent }
  | { ok: false; reason: "schema_violation"; problems: Problem[]; message: string };

/** Validates an already JSON-decoded event; every problem is listed, not only the first. */
export function parseHandoffEvent(raw: unknown): ParseHandoffEventResult {
  const result = HandoffEventSchema.safeParse(raw, { error: requiredFieldMessage });
  if (result.success) return { ok: true, event: result.data };
  const problems = problemsOf(result.error);
  return { ok: false, reason: "schema_violation", problems, message: describeProblems(problems) };
}

/** The key producers should partition by: `shared_id` wins when present, as in the Handoff API. */
export function handoffKeyOf(event: Pick<HandoffEvent, "id" | "shared_id">): string {
  return event.shared_id ?? event.id;
}
