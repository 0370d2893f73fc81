import { z } from "zod";
import { SecretRefSchema } from "../secret-ref.js";
import { destinationBase } from "./base.js";

/** An integration user's name and password, sent as HTTP Basic on every request. */
export const ServiceNowBasicAuthSchema = z.strictObject({
  method: z.literal("basic"),
  username: SecretRefSchema,
  password: SecretRefSchema,
});

const oauthClient = {
  method: z.literal("oauth"),
  client_id: SecretRefSchema,
  client_secret: SecretRefSchema,
};

/**
 * OAuth through the instance's `/oauth_token.do`. The grant decides which credentials are needed, so
 * each grant is its own strict object and a missing or stray credential is reported by name.
 */
export const ServiceNowOAuthSchema = z.discriminatedUnion("grant_type", [
  z.strictObject({ ...oauthClient, grant_type: z.literal("client_credentials") }),
  z.strictObject({
    ...oauthClient,
    grant_type: z.literal("password"),
    username: SecretRefSchema,
    password: SecretRefSchema,
  }),
  z.strictObject({ ...oauthClient, grant_type: z.literal("refresh_token"), refresh_token: SecretRefSchema }),
]);

export const ServiceNowAuthSchema = z.discriminatedUnion("method", [
  ServiceNowBasicAuthSchema,
  ServiceNowOAuthSchema,
]);
export type ServiceNowAuth = z.infer<typeof ServiceNowAuthSchema>;

// Table and column names as ServiceNow creates them: lowercase, digits and underscores.
const SYS_NAME = /^[a-z][a-z0-9_]{0,79}$/;

export const ServiceNowDestinationSchema = z.strictObject({
  type: z.literal("servicenow"),
  /** `https://<instance>.service-now.com`; the Table API and the token endpoint live under it. */
  instance_url: z
    .url({
      protocol: /^https?$/,
      error: "must be an http:// or https:// URL such as https://acme.service-now.com",
    })
    .refine((value) => {
      const url = new URL(value);
      return (url.pathname === "/" || url.pathname === "") && url.search === "" && url.hash === "";
    }, "give only the instance's origin (https://acme.service-now.com), without a path"),
  /** Any table with `correlation_id` (every task table has it): `incident`, `interaction`, ... */
  table: z
    .string()
    .regex(SYS_NAME, "a ServiceNow table name such as incident or interaction")
    .default("incident"),
  auth: ServiceNowAuthSchema,
  /**
   * The integer column holding the handoff version; ServiceNow silently drops fields a table does
   * not have, so the adapter checks that the column comes back.
   */
  version_field: z
    .string()
    .regex(SYS_NAME, "a column name such as u_handoff_version")
    .default("u_handoff_version"),
  /** What to do when the record the ledger names was deleted in ServiceNow. */
  on_missing_record: z.enum(["recreate", "park"]).default("recreate"),
  ...destinationBase,
});
export type ServiceNowDestination = z.infer<typeof ServiceNowDestinationSchema>;
