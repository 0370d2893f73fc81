import { HandoffSnapshotSchema } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import type { SalesforceConfig } from "./adapter.js";
import { buildSalesforceWrite, salesforceBody } from "./mapping.js";

const at = "2025-03-01T10:00:00.000Z";
const snapshot = HandoffSnapshotSchema.parse({
  schema_version: 1,
  key: "chat/42 é",
  id: "conv-1",
  state: "handoff_failed",
  stage: "failed",
  version: 4,
  occurred_at: at,
  data: { customer_id: "C-42" },
  history: [
    {
      event_id: "e1",
      id: "conv-1",
      state: "handoff_failed",
      stage: "failed",
      occurred_at: at,
      received_at: at,
      data: {},
    },
  ],
  created_at: at,
  updated_at: at,
});

const config: SalesforceConfig = {
  type: "salesforce",
  instance_url: "https://acme.my.salesforce.com",
  api_version: "62.0",
  auth: { method: "client_credentials", client_id: "id", client_secret: "secret" },
  object: "Case",
  external_id_field: "Handoff_Key__c",
  version_field: "Handoff_Version__c",
  on_missing_record: "recreate",
  allow_private_network: false,
  timeout_ms: 1_000,
  concurrency: 1,
  retry: { attempts: 1, base_delay_ms: 1, max_delay_ms: 1 },
};

describe("salesforceBody", () => {
  it("drops Id and the key field in any case, and always carries the version", () => {
    expect(
      salesforceBody(
        { id: "x", handoff_key__c: "k", Handoff_Version__c: 99, Subject: "s" },
        "Handoff_Key__c",
        "Handoff_Version__c",
        4,
      ),
    ).toEqual({
      Subject: "s",
      Handoff_Version__c: 4,
    });
  });
});

describe("buildSalesforceWrite", () => {
  it("upserts by the URL-encoded key when the ledger has no record id, with the default mapping", () => {
    const write = buildSalesforceWrite(config, snapshot, "sfdc");
    expect(write).toEqual({
      kind: "single",
      operation: "upsert",
      request: {
        method: "PATCH",
        url: "/services/data/v62.0/sobjects/Case/Handoff_Key__c/chat%2F42%20%C3%A9",
        body: {
          Subject: "AI handoff: ",
          Description:
            "Handoff chat/42 é is handoff_failed (failed).\nReason: \nCustomer: C-42\nChannel: \nConversation: conv-1",
          Status: "Escalated",
          Handoff_Version__c: 4,
        },
      },
    });
  });

  it("updates by the ledger's id", () => {
    const write = buildSalesforceWrite(config, snapshot, "sfdc", "500Hs0000000001AAA");
    expect(write).toMatchObject({
      kind: "single",
      operation: "update",
      request: { url: "/services/data/v62.0/sobjects/Case/500Hs0000000001AAA" },
    });
  });

  it("adds the task in a composite call, linked by reference or by the known id", () => {
    const withTask = {
      ...config,
      task: { object: "Task", external_id_field: "Handoff_Key__c", link_field: "WhatId" },
    };
    const created = buildSalesforceWrite(withTask, snapshot, "sfdc");
    expect(created).toMatchObject({
      kind: "composite",
      url: "/services/data/v62.0/composite",
      body: {
        allOrNone: true,
        compositeRequest: [
          {
            referenceId: "refRecord",
            url: "/services/data/v62.0/sobjects/Case/Handoff_Key__c/chat%2F42%20%C3%A9",
          },
          {
            referenceId: "refTask",
            url: "/services/data/v62.0/sobjects/Task/Handoff_Key__c/chat%2F42%20%C3%A9",
            body: { WhatId: "@{refRecord.id}", Handoff_Version__c: 4 },
          },
        ],
      },
    });
    const updated = buildSalesforceWrite(withTask, snapshot, "sfdc", "500X");
    expect(updated).toMatchObject({
      body: {
        compositeRequest: [{ url: "/services/data/v62.0/sobjects/Case/500X" }, { body: { WhatId: "500X" } }],
      },
    });
  });

  it("leaves the task out for states not listed", () => {
    const write = buildSalesforceWrite(
      {
        ...config,
        task: {
          object: "Task",
          external_id_field: "K__c",
          link_field: "WhatId",
          states: ["handoff_completed"],
        },
      },
      snapshot,
      "sfdc",
    );
    expect(write.kind).toBe("single");
  });
});
