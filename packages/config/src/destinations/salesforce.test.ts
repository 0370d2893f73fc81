import { describe, expect, it } from "vitest";
import { SecretRef } from "../secret-ref.js";
import { SalesforceDestinationSchema } from "./salesforce.js";

const minimal = {
  type: "salesforce",
  instance_url: "https://acme.my.salesforce.com",
  auth: { method: "client_credentials", client_id: "3MVG9", client_secret: "env:SF_SECRET" },
};

describe("SalesforceDestinationSchema", () => {
  it("fills in the documented defaults", () => {
    const parsed = SalesforceDestinationSchema.parse(minimal);
    expect(parsed).toMatchObject({
      api_version: "62.0",
      object: "Case",
      external_id_field: "Handoff_Key__c",
      version_field: "Handoff_Version__c",
      on_missing_record: "recreate",
      allow_private_network: false,
    });
    expect(parsed.auth).toMatchObject({ client_secret: new SecretRef("env", "SF_SECRET") });
  });

  it("defaults the JWT audience and the task's object, key and link", () => {
    const parsed = SalesforceDestinationSchema.parse({
      ...minimal,
      auth: {
        method: "jwt_bearer",
        client_id: "3MVG9",
        username: "u@acme.example",
        private_key: "file:/keys/sf.pem",
      },
      task: {},
    });
    expect(parsed.auth).toMatchObject({ audience: "https://login.salesforce.com" });
    expect(parsed.task).toEqual({
      object: "Task",
      external_id_field: "Handoff_Key__c",
      link_field: "WhatId",
    });
  });

  it.each([
    [{ auth: { ...minimal.auth, client_secret: "s3cr3t" } }, ["auth", "client_secret"]],
    [{ auth: { method: "password", client_id: "x" } }, ["auth", "method"]],
    [{ object: "Case; DROP" }, ["object"]],
    [{ api_version: "v62" }, ["api_version"]],
    [{ api_version: "45.0" }, ["api_version"]],
    [{ on_missing_record: "ignore" }, ["on_missing_record"]],
    [{ extenal_id_field: "X__c" }, []],
  ])("refuses %o", (overrides, path) => {
    const result = SalesforceDestinationSchema.safeParse({ ...minimal, ...overrides });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(path);
  });
});
