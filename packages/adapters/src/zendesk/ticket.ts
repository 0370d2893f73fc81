import { z } from "zod";

/** The parts of a Zendesk ticket the adapter reads; loose, because Zendesk adds fields over time. */
export const ZendeskTicketSchema = z.looseObject({
  id: z.number().int(),
  external_id: z.string().nullable().optional(),
  status: z.string().optional(),
  tags: z.array(z.string()).default([]),
  custom_fields: z
    .array(z.looseObject({ id: z.number(), value: z.unknown() }))
    .nullable()
    .optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
});
export type ZendeskTicket = z.infer<typeof ZendeskTicketSchema>;

export const ZendeskTicketResponseSchema = z.looseObject({ ticket: ZendeskTicketSchema });

export const ZendeskTicketListSchema = z.looseObject({
  tickets: z.array(ZendeskTicketSchema),
  next_page: z.string().nullable().optional(),
});

/** Closed tickets are read-only in Zendesk: an update answers 422, so they count as gone. */
export function isClosed(ticket: ZendeskTicket): boolean {
  return ticket.status === "closed";
}

const MARKER = /^handoff_v(\d+)$/;

/** The tag that says a ticket carries this handoff version. */
export function versionTag(version: number): string {
  return `handoff_v${version}`;
}

export function isVersionTag(tag: string): boolean {
  return MARKER.test(tag);
}

/**
 * The newest handoff version the ticket already carries, from its `handoff_v<N>` tags and, when
 * configured, the version custom field; 0 when it carries none.
 */
export function ticketVersion(ticket: ZendeskTicket, versionFieldId?: number): number {
  let version = 0;
  for (const tag of ticket.tags) {
    const digits = MARKER.exec(tag)?.[1];
    if (digits !== undefined) version = Math.max(version, Number(digits));
  }
  if (versionFieldId !== undefined) {
    const value = ticket.custom_fields?.find((field) => field.id === versionFieldId)?.value;
    const fromField =
      typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
    if (Number.isInteger(fromField)) version = Math.max(version, fromField);
  }
  return version;
}

/**
 * Zendesk does not keep `external_id` unique, so a lookup may return several tickets for one handoff
 * (a create that raced a lookup, or tickets made by hand). The oldest open one wins: ticket ids only
 * grow, so the lowest id is the oldest, and every worker picks the same one.
 */
export function pickTicket(tickets: readonly ZendeskTicket[]): ZendeskTicket | undefined {
  return tickets
    .filter((ticket) => !isClosed(ticket))
    .reduce<ZendeskTicket | undefined>(
      (oldest, ticket) => (oldest === undefined || ticket.id < oldest.id ? ticket : oldest),
      undefined,
    );
}
