import { z } from "zod";
import { SecretRefSchema } from "../secret-ref.js";
import { destinationBase } from "./base.js";

/** Basic auth as `{email}/token:{api_token}`; API tokens never expire, so a 401 parks the destination. */
export const ZendeskApiTokenAuthSchema = z.strictObject({
  method: z.literal("api_token"),
  /** The agent or admin the token acts as; tickets show this user as the author of comments. */
  email: z.email(),
  api_token: SecretRefSchema,
});

/** A bearer token issued beforehand (OAuth Tokens API); nothing to renew, so a 401 parks the destination. */
export const ZendeskOAuthTokenAuthSchema = z.strictObject({
  method: z.literal("oauth_token"),
  access_token: SecretRefSchema,
});

/** Tokens from `POST /oauth/tokens` (grant_type client_credentials), cached and renewed once on 401. */
export const ZendeskOAuthClientCredentialsAuthSchema = z.strictObject({
  method: z.literal("oauth_client_credentials"),
  /** The OAuth client's unique identifier (Admin Center > Apps and integrations > APIs > OAuth clients). */
  client_id: z.string().min(1),
  client_secret: SecretRefSchema,
  scope: z.string().min(1).default("tickets:read tickets:write"),
  /** Asks for tokens of this lifetime; Zendesk accepts 301 to 172,799 seconds. */
  token_lifetime_s: z.number().int().min(301).max(172_799).optional(),
});

export const ZendeskAuthSchema = z.discriminatedUnion("method", [
  ZendeskApiTokenAuthSchema,
  ZendeskOAuthTokenAuthSchema,
  ZendeskOAuthClientCredentialsAuthSchema,
]);
export type ZendeskAuth = z.infer<typeof ZendeskAuthSchema>;

const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const ZendeskDestinationSchema = z
  .strictObject({
    type: z.literal("zendesk"),
    /** `acme` for https://acme.zendesk.com. Give this or `url`. */
    subdomain: z.string().regex(SUBDOMAIN, "the part before .zendesk.com, such as acme").optional(),
    /** The account's base URL when it is not `https://{subdomain}.zendesk.com` (host-mapped accounts, tests). */
    url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional(),
    auth: ZendeskAuthSchema,
    /**
     * Id of a numeric custom ticket field that receives the handoff version. Optional: the
     * `handoff_v<version>` tag is the marker the adapter relies on; the field makes the version
     * visible to agents, views and triggers, and is read as a second marker.
     */
    version_field_id: z.number().int().positive().optional(),
    /** What to do when the ticket the ledger names was deleted (or closed) in Zendesk. */
    on_missing_record: z.enum(["recreate", "park"]).default("recreate"),
    ...destinationBase,
  })
  .refine((destination) => (destination.subdomain === undefined) !== (destination.url === undefined), {
    message: "give exactly one of subdomain or url",
    path: ["subdomain"],
  });
export type ZendeskDestination = z.infer<typeof ZendeskDestinationSchema>;
