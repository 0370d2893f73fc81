import { describe, expect, it } from "vitest";
import { SecretRef } from "../secret-ref.js";
import { ZendeskDestinationSchema } from "./zendesk.js";

const auth = { method: "api_token", email: "bot@acme.example", api_token: "env:ZENDESK_API_TOKEN" };

describe("ZendeskDestinationSchema", () => {
  it("accepts a subdomain with an API token and fills defaults", () => {
    const parsed = ZendeskDestinationSchema.parse({ type: "zendesk", subdomain: "acme", auth });
    expect(parsed.on_missing_record).toBe("recreate");
    expect(parsed.auth).toMatchObject({
      method: "api_token",
      api_token: new SecretRef("env", "ZENDESK_API_TOKEN"),
    });
  });

  it("accepts OAuth client credentials with the default scope", () => {
    const parsed = ZendeskDestinationSchema.parse({
      type: "zendesk",
      url: "https://support.acme.example",
      auth: {
        method: "oauth_client_credentials",
        client_id: "handoff_sync",
        client_secret: "file:/run/secret",
      },
    });
    expect(parsed.auth).toMatchObject({ scope: "tickets:read tickets:write" });
  });

  it.each([
    ["both subdomain and url", { subdomain: "acme", url: "https://acme.zendesk.com", auth }],
    ["neither subdomain nor url", { auth }],
    ["a secret written inline", { subdomain: "acme", auth: { ...auth, api_token: "abc123" } }],
    ["an unknown auth method", { subdomain: "acme", auth: { method: "password", email: "a@b.c" } }],
    ["an unknown key", { subdomain: "acme", auth, external_id_field: "x" }],
    ["a bad on_missing_record", { subdomain: "acme", auth, on_missing_record: "ignore" }],
    ["a subdomain that is a URL", { subdomain: "https://acme.zendesk.com", auth }],
  ])("refuses %s", (_name, settings) => {
    expect(ZendeskDestinationSchema.safeParse({ type: "zendesk", ...settings }).success).toBe(false);
  });
});
