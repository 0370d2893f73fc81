import { createHash } from "node:crypto";
import type { FieldMapping } from "@handoff-sync/config";

/**
 * Used when the destination has no `mapping`. Reference fields (`caller_id`, `assignment_group`)
 * take sys_ids, so they are only filled when the handoff's data carries them; everything missing is
 * left out rather than blanked.
 */
export const SERVICENOW_DEFAULT_MAPPING: FieldMapping = {
  // short_description is a 160-character field on task tables.
  short_description: { path: "reason", default: "AI-to-human handoff", truncate: 160 },
  description: {
    template:
      "Handoff {{key}} from conversation {{id}}\nState: {{state}} ({{stage}})\nChannel: {{channel}}\nReason: {{reason}}\nCustomer: {{data.customer_id}}\nVerification: {{data.verification_status}}",
  },
  caller_id: { path: "data.caller_id" },
  assignment_group: { path: "data.assignment_group" },
  work_notes: { template: "handoff-sync: {{state}} (version {{version}}) at {{occurred_at}}" },
};

export const CORRELATION_DISPLAY = "handoff-sync";

// correlation_id is a 100-character string on task tables, and `^` separates encoded-query terms.
const SAFE_CORRELATION_ID = /^[\x21-\x5D\x5F-\x7E]{1,100}$/;

/**
 * The record's `correlation_id`: the handoff key itself when ServiceNow can store and query it
 * verbatim, else a digest of it (longer than the column, or with `^`, spaces or non-ASCII).
 */
export function serviceNowCorrelationId(key: string): string {
  if (SAFE_CORRELATION_ID.test(key)) return key;
  return `hs-sha256-${createHash("sha256").update(key, "utf8").digest("hex")}`;
}

/** The lookup's encoded query; the oldest record wins when earlier writers left duplicates. */
export function serviceNowLookupQuery(correlationId: string): string {
  return `correlation_id=${correlationId}^ORDERBYsys_created_on`;
}

// The Table API stores every value as text; objects would otherwise be refused or lost.
function fieldValue(value: unknown): string | number | boolean {
  if (value === null) return "";
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return JSON.stringify(value);
}

export interface ServiceNowBodyInput {
  readonly correlationId: string;
  readonly version: number;
  readonly versionField: string;
}

/**
 * The POST or PATCH body: the mapped fields, then the fields the adapter owns (which a mapping cannot
 * override, or the lookup and the version guard would break). Pure.
 */
export function buildServiceNowBody(
  mapped: Readonly<Record<string, unknown>>,
  input: ServiceNowBodyInput,
): Record<string, string | number | boolean> {
  const body: Record<string, string | number | boolean> = {};
  for (const [field, value] of Object.entries(mapped)) body[field] = fieldValue(value);
  body["correlation_id"] = input.correlationId;
  body["correlation_display"] = CORRELATION_DISPLAY;
  body[input.versionField] = input.version;
  return body;
}
