import { FieldMappingSchema } from "@handoff-sync/config";
import { describe, expect, it } from "vitest";
import { zendeskIdempotencyKey } from "./idempotency-key.js";
import {
  buildZendeskCreateBody,
  buildZendeskUpdateBody,
  unknownZendeskTargets,
  ZENDESK_DEFAULT_MAPPING,
} from "./mapping.js";
import { pickTicket, ticketVersion, ZendeskTicketSchema } from "./ticket.js";

const context = { externalId: "conv-7", version: 2 };

describe("buildZendeskCreateBody", () => {
  it("builds the ticket from mapped fields, with external_id and the version tag", () => {
    const body = buildZendeskCreateBody(
      {
        subject: "Refund",
        comment: "Customer wants a refund",
        requester_email: "jane@example.com",
        requester_name: "Jane",
        tags: "handoff_sync, refund",
        priority: "high",
        group_id: "42",
        "custom_fields.360001": "gold",
      },
      { ...context, versionFieldId: 360_002 },
    );
    expect(body).toEqual({
      ticket: {
        subject: "Refund",
        comment: { body: "Customer wants a refund", public: false },
        external_id: "conv-7",
        requester: { email: "jane@example.com", name: "Jane" },
        tags: ["handoff_sync", "refund", "handoff_v2"],
        custom_fields: [
          { id: 360_001, value: "gold" },
          { id: 360_002, value: 2 },
        ],
        priority: "high",
        group_id: 42,
      },
    });
  });

  it("never sends a blank comment or a requester without email", () => {
    const { ticket } = buildZendeskCreateBody({ comment: "  ", requester_name: "Jane" }, context);
    expect(ticket.comment).toEqual({ body: "Handoff conv-7 updated (version 2)", public: false });
    expect(ticket).not.toHaveProperty("requester");
  });
});

describe("buildZendeskUpdateBody", () => {
  it("keeps the ticket's tags, swaps the version marker, and leaves subject and requester alone", () => {
    const existing = ZendeskTicketSchema.parse({ id: 5, tags: ["vip", "handoff_v1", "handoff_sync"] });
    const { ticket } = buildZendeskUpdateBody(
      { subject: "x", requester_email: "a@b.c", comment: "done", tags: ["handoff_sync"] },
      context,
      existing,
    );
    expect(ticket).toEqual({
      comment: { body: "done", public: false },
      tags: ["vip", "handoff_sync", "handoff_v2"],
    });
  });
});

describe("mapping targets", () => {
  it("the default mapping only uses known targets", () => {
    expect(unknownZendeskTargets(ZENDESK_DEFAULT_MAPPING)).toEqual([]);
  });

  it("reports unknown targets", () => {
    const mapping = FieldMappingSchema.parse({
      subject: "reason",
      "custom_fields.12": "version",
      Status__c: "state",
      "custom_fields.x": "state",
    });
    expect(unknownZendeskTargets(mapping)).toEqual(["Status__c", "custom_fields.x"]);
  });
});

describe("ticket markers", () => {
  it("reads the newest version from tags and the version field", () => {
    const ticket = ZendeskTicketSchema.parse({
      id: 1,
      tags: ["handoff_v2", "handoff_v10x"],
      custom_fields: [{ id: 9, value: "3" }],
    });
    expect(ticketVersion(ticket)).toBe(2);
    expect(ticketVersion(ticket, 9)).toBe(3);
    expect(ticketVersion(ZendeskTicketSchema.parse({ id: 1 }))).toBe(0);
  });

  it("picks the oldest open ticket among duplicates", () => {
    const tickets = [
      { id: 9, status: "open" },
      { id: 3, status: "closed" },
      { id: 5, status: "new" },
    ].map((t) => ZendeskTicketSchema.parse(t));
    expect(pickTicket(tickets)?.id).toBe(5);
    expect(pickTicket([])).toBeUndefined();
  });
});

describe("zendeskIdempotencyKey", () => {
  const base = { destination: "support", handoffKey: "conv-7", version: 2, body: "{}" };

  it("is stable for one version and body, and within Zendesk's 255 characters", () => {
    const key = zendeskIdempotencyKey(base);
    expect(zendeskIdempotencyKey({ ...base })).toBe(key);
    expect(key.length).toBeLessThanOrEqual(255);
    expect(zendeskIdempotencyKey({ ...base, handoffKey: "k".repeat(10_000) }).length).toBeLessThanOrEqual(
      255,
    );
  });

  it("changes with the destination, the version, the body and a replaced ticket", () => {
    const key = zendeskIdempotencyKey(base);
    for (const other of [
      { ...base, destination: "other" },
      { ...base, version: 3 },
      { ...base, body: '{"a":1}' },
      { ...base, replaces: "17" },
    ]) {
      expect(zendeskIdempotencyKey(other)).not.toBe(key);
    }
  });
});
