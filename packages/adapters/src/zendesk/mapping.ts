import { FieldMappingSchema, type FieldMapping } from "@handoff-sync/config";
import { isVersionTag, versionTag, type ZendeskTicket } from "./ticket.js";

/**
 * Used when the destination has no `mapping`. The comment is what the live agent reads, so it
 * carries the reason and the customer context; `data.customer_email` becomes the requester when the
 * handoff has one (otherwise Zendesk makes the integration user the requester).
 */
export const ZENDESK_DEFAULT_MAPPING: FieldMapping = FieldMappingSchema.parse({
  subject: { template: "Handoff from AI agent: {{reason}}", truncate: 150 },
  comment: {
    template:
      "Handoff {{state}} ({{stage}}) at {{occurred_at}}\nReason: {{reason}}\nCustomer: {{data.customer_id}}\nVerification: {{data.verification_status}}\nConversation: {{id}}\nHandoff key: {{key}} (version {{version}})",
  },
  requester_email: "data.customer_email",
  requester_name: "data.customer_name",
  tags: { literal: "handoff_sync" },
});

const SCALAR_TARGETS = [
  "subject",
  "comment",
  "comment_public",
  "requester_email",
  "requester_name",
  "tags",
] as const;
const TICKET_FIELD_TARGETS = ["priority", "type", "status", "group_id", "assignee_id", "brand_id"] as const;
const NUMERIC_TARGETS: ReadonlySet<string> = new Set(["group_id", "assignee_id", "brand_id"]);
const CUSTOM_FIELD = /^custom_fields\.(\d+)$/;
const KNOWN: ReadonlySet<string> = new Set([...SCALAR_TARGETS, ...TICKET_FIELD_TARGETS]);

/** Mapping targets this adapter does not know; each one would be silently dropped otherwise. */
export function unknownZendeskTargets(mapping: FieldMapping): string[] {
  return Object.keys(mapping).filter((target) => !KNOWN.has(target) && !CUSTOM_FIELD.test(target));
}

export interface ZendeskTicketContext {
  /** The handoff key: the ticket's `external_id`. */
  readonly externalId: string;
  readonly version: number;
  readonly versionFieldId?: number;
  /** A closed ticket this one follows up, so agents see the history. */
  readonly followupSourceId?: number;
}

function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

function numeric(value: unknown): unknown {
  return typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
}

function tagList(value: unknown): string[] {
  const raw = Array.isArray(value) ? value.map(text) : (text(value)?.split(/[\s,]+/) ?? []);
  return raw.filter((tag): tag is string => tag !== undefined && tag !== "");
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function comment(
  fields: Readonly<Record<string, unknown>>,
  context: ZendeskTicketContext,
): { body: string; public: boolean } {
  const body = text(fields.comment);
  return {
    // Zendesk refuses a ticket or update whose comment is blank.
    body:
      body === undefined || body.trim() === ""
        ? `Handoff ${context.externalId} updated (version ${context.version})`
        : body,
    public: fields.comment_public === true || fields.comment_public === "true",
  };
}

function ticketFields(fields: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const target of TICKET_FIELD_TARGETS) {
    const value = fields[target];
    if (value !== undefined && value !== null && value !== "")
      out[target] = NUMERIC_TARGETS.has(target) ? numeric(value) : value;
  }
  return out;
}

function customFields(
  fields: Readonly<Record<string, unknown>>,
  context: ZendeskTicketContext,
): { id: number; value: unknown }[] {
  const out: { id: number; value: unknown }[] = [];
  for (const [target, value] of Object.entries(fields)) {
    const id = CUSTOM_FIELD.exec(target)?.[1];
    if (id !== undefined && Number(id) !== context.versionFieldId) out.push({ id: Number(id), value });
  }
  if (context.versionFieldId !== undefined) out.push({ id: context.versionFieldId, value: context.version });
  return out;
}

/**
 * `POST /api/v2/tickets` body. Pure and deterministic: every retry of one version sends the same
 * bytes, which the Idempotency-Key requires.
 */
export function buildZendeskCreateBody(
  fields: Readonly<Record<string, unknown>>,
  context: ZendeskTicketContext,
): { ticket: Record<string, unknown> } {
  const email = text(fields.requester_email);
  const name = text(fields.requester_name);
  const subject = text(fields.subject);
  const custom = customFields(fields, context);
  return {
    ticket: {
      ...(subject === undefined || subject === "" ? {} : { subject }),
      comment: comment(fields, context),
      external_id: context.externalId,
      // Zendesk needs an email to find or create a requester; a name alone would be refused.
      ...(email === undefined || email === ""
        ? {}
        : { requester: { email, ...(name === undefined || name === "" ? {} : { name }) } }),
      tags: unique([...tagList(fields.tags), versionTag(context.version)]),
      ...(custom.length === 0 ? {} : { custom_fields: custom }),
      ...ticketFields(fields),
      ...(context.followupSourceId === undefined ? {} : { via_followup_source_id: context.followupSourceId }),
    },
  };
}

/**
 * `PUT /api/v2/tickets/{id}` body without the conditional-write fields. Subject and requester are
 * left as the agents may have changed them; `tags` replaces the ticket's list, so it is the ticket's
 * own tags with older version markers swapped for this one (the adapter sends it with `safe_update`,
 * so tags an agent adds meanwhile are not lost).
 */
export function buildZendeskUpdateBody(
  fields: Readonly<Record<string, unknown>>,
  context: ZendeskTicketContext,
  existing: ZendeskTicket,
): { ticket: Record<string, unknown> } {
  const custom = customFields(fields, context);
  return {
    ticket: {
      comment: comment(fields, context),
      tags: unique([
        ...existing.tags.filter((tag) => !isVersionTag(tag)),
        ...tagList(fields.tags),
        versionTag(context.version),
      ]),
      ...(custom.length === 0 ? {} : { custom_fields: custom }),
      ...ticketFields(fields),
    },
  };
}
