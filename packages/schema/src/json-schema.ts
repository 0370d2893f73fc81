import { z } from "zod";
import { HandoffEventSchema } from "./events.js";

/** Repository path of the committed JSON Schema, for producers that validate before writing. */
export const HANDOFF_EVENT_JSON_SCHEMA_PATH = "docs/schemas/handoff-event.v1.json";

/** The event contract as producers write it (defaults not yet applied), as JSON Schema 2020-12. */
export function handoffEventJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(HandoffEventSchema, { io: "input" });
}

export function renderHandoffEventJsonSchema(): string {
  return `${JSON.stringify(handoffEventJsonSchema(), null, 2)}\n`;
}
