import { describe, expect, it } from "vitest";
import { SecretRef } from "../secret-ref.js";
import { ServiceNowDestinationSchema } from "./servicenow.js";

const basic = { method: "basic", username: "env:SN_USER", password: "env:SN_PASSWORD" };
const oauth = { method: "oauth", client_id: "env:SN_CLIENT_ID", client_secret: "env:SN_CLIENT_SECRET" };
const base = { type: "servicenow", instance_url: "https://acme.service-now.com" };

describe("ServiceNowDestinationSchema", () => {
  it("accepts Basic auth and fills the defaults", () => {
    const parsed = ServiceNowDestinationSchema.parse({ ...base, auth: basic });
    expect(parsed).toMatchObject({
      table: "incident",
      version_field: "u_handoff_version",
      on_missing_record: "recreate",
      allow_private_network: false,
    });
    expect(parsed.auth).toEqual({
      method: "basic",
      username: new SecretRef("env", "SN_USER"),
      password: new SecretRef("env", "SN_PASSWORD"),
    });
  });

  it.each([
    ["client_credentials", {}],
    ["password", { username: "env:SN_USER", password: "file:/run/secrets/sn" }],
    ["refresh_token", { refresh_token: "env:SN_REFRESH_TOKEN" }],
  ])("accepts the OAuth %s grant", (grant_type, extra) => {
    const parsed = ServiceNowDestinationSchema.parse({
      ...base,
      table: "interaction",
      auth: { ...oauth, grant_type, ...extra },
    });
    expect(parsed.auth).toMatchObject({ method: "oauth", grant_type });
  });

  it.each([
    ["a secret written inline", { auth: { ...basic, password: "hunter2" } }],
    ["an unknown auth method", { auth: { method: "api_key", key: "env:K" } }],
    [
      "the password grant without a password",
      { auth: { ...oauth, grant_type: "password", username: "env:U" } },
    ],
    [
      "a refresh token on the client_credentials grant",
      { auth: { ...oauth, grant_type: "client_credentials", refresh_token: "env:R" } },
    ],
    ["an unknown grant", { auth: { ...oauth, grant_type: "implicit" } }],
    ["an instance URL with a path", { instance_url: "https://acme.service-now.com/api/now", auth: basic }],
    ["an instance URL that is not http(s)", { instance_url: "ftp://acme.service-now.com", auth: basic }],
    ["a table name with capitals", { table: "Incident", auth: basic }],
    ["a bad on_missing_record", { on_missing_record: "ignore", auth: basic }],
    ["an unknown key", { correlation_field: "x", auth: basic }],
  ])("refuses %s", (_name, settings) => {
    expect(ServiceNowDestinationSchema.safeParse({ ...base, ...settings }).success).toBe(false);
  });
});
