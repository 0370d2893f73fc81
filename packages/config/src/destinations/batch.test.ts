import { describe, expect, it } from "vitest";
import { HubSpotDestinationSchema } from "./hubspot.js";
import { SalesforceDestinationSchema } from "./salesforce.js";

const hubspot = { type: "hubspot", auth: { method: "private_app", token: "env:HUBSPOT_TOKEN" } };
const salesforce = {
  type: "salesforce",
  instance_url: "https://acme.my.salesforce.com",
  auth: { method: "client_credentials", client_id: "cid", client_secret: "env:SF_SECRET" },
};

describe("batch settings", () => {
  it("are off unless configured, and an empty batch gets the CRM's defaults", () => {
    expect(HubSpotDestinationSchema.parse(hubspot).batch).toBeUndefined();
    expect(HubSpotDestinationSchema.parse({ ...hubspot, batch: {} }).batch).toEqual({
      max_size: 100,
      max_wait_ms: 200,
    });
    expect(SalesforceDestinationSchema.parse({ ...salesforce, batch: {} }).batch).toEqual({
      max_size: 200,
      max_wait_ms: 200,
    });
  });

  it("refuse a max_size above the API's limit, naming it", () => {
    const tooBig = HubSpotDestinationSchema.safeParse({ ...hubspot, batch: { max_size: 101 } });
    expect(tooBig.success).toBe(false);
    expect(tooBig.error?.issues[0]?.message).toBe(
      "HubSpot's batch upsert takes at most 100 records per request",
    );
    expect(SalesforceDestinationSchema.safeParse({ ...salesforce, batch: { max_size: 200 } }).success).toBe(
      true,
    );
    const sfTooBig = SalesforceDestinationSchema.safeParse({ ...salesforce, batch: { max_size: 201 } });
    expect(sfTooBig.error?.issues[0]?.message).toBe(
      "Salesforce's sObject Collections upsert takes at most 200 records per request",
    );
  });

  it("refuse unknown keys and a negative wait", () => {
    expect(HubSpotDestinationSchema.safeParse({ ...hubspot, batch: { size: 5 } }).success).toBe(false);
    expect(HubSpotDestinationSchema.safeParse({ ...hubspot, batch: { max_wait_ms: -1 } }).success).toBe(
      false,
    );
  });
});
