import { describe, expect, it } from "vitest";
import { SecretRef } from "../secret-ref.js";
import { HubSpotDestinationSchema } from "./hubspot.js";

const minimal = { type: "hubspot", auth: { method: "private_app", token: "env:HUBSPOT_TOKEN" } };

function problems(input: unknown): string[] {
  const parsed = HubSpotDestinationSchema.safeParse(input);
  return parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("HubSpotDestinationSchema", () => {
  it("fills the documented defaults", () => {
    const parsed = HubSpotDestinationSchema.parse(minimal);
    expect(parsed).toMatchObject({
      base_url: "https://api.hubapi.com",
      object: "tickets",
      id_property: "handoff_key",
      version_property: "handoff_version",
      contact_association: {
        enabled: true,
        path: "data.hubspot_contact_id",
        association_type_id: 16,
        association_category: "HUBSPOT_DEFINED",
      },
      on_missing_record: "recreate",
    });
    expect(parsed.auth).toEqual({ method: "private_app", token: new SecretRef("env", "HUBSPOT_TOKEN") });
  });

  it("accepts OAuth with secret references", () => {
    const auth = {
      method: "oauth",
      client_id: "abc",
      client_secret: "env:CS",
      refresh_token: "file:/run/rt",
    };
    expect(problems({ ...minimal, auth })).toEqual([]);
  });

  it("refuses inline secrets, unknown keys and a non-ticket object without a mapping", () => {
    expect(problems({ ...minimal, auth: { method: "private_app", token: "pat-na1-123" } })[0]).toMatch(
      /^auth.token: secrets must not be written/,
    );
    expect(problems({ ...minimal, idProperty: "x" })).toHaveLength(1);
    expect(problems({ ...minimal, object: "contacts" })).toEqual([
      expect.stringMatching(/^mapping: object "contacts" needs a mapping/),
    ]);
    expect(problems({ ...minimal, object: "2-1234567", mapping: { name: "data.name" } })).toEqual([]);
    expect(problems({ ...minimal, id_property: "Handoff Key" })[0]).toMatch(/^id_property:/);
    expect(problems({ ...minimal, version_property: "handoff_key" })).toEqual([
      "version_property: must differ from id_property",
    ]);
  });
});
