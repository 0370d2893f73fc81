import { z } from "zod";
import { FieldMappingSchema } from "../mapping-schema.js";
import { SecretRefSchema } from "../secret-ref.js";
import { destinationBase } from "./base.js";
import { batchSchema, SALESFORCE_BATCH_LIMITS } from "./batch.js";

/** API names of sObjects and fields: letters, digits and single underscores, `__c` for custom ones. */
const ApiNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,79}$/, "a Salesforce API name such as Case or Handoff_Key__c");

const ClientCredentialsSchema = z.strictObject({
  method: z.literal("client_credentials"),
  /** The connected app's consumer key: an identifier, not a secret. */
  client_id: z.string().min(1),
  client_secret: SecretRefSchema,
});

const JwtBearerSchema = z.strictObject({
  method: z.literal("jwt_bearer"),
  client_id: z.string().min(1),
  /** The integration user the connected app is pre-authorised for (the JWT's `sub`). */
  username: z.string().min(1),
  /** PEM private key whose certificate is uploaded to the connected app. */
  private_key: SecretRefSchema,
  /** The JWT's `aud`: the login host, not My Domain (test.salesforce.com for sandboxes). */
  audience: z.url({ protocol: /^https?$/ }).default("https://login.salesforce.com"),
});

export const SalesforceAuthSchema = z.discriminatedUnion("method", [
  ClientCredentialsSchema,
  JwtBearerSchema,
]);
export type SalesforceAuth = z.infer<typeof SalesforceAuthSchema>;

/** A follow-up Task (or any activity-like sObject) written in the same composite call as the record. */
export const SalesforceTaskSchema = z.strictObject({
  object: ApiNameSchema.default("Task"),
  /** Also an External ID field, on the task object, so a retried call updates its task instead of adding one. */
  external_id_field: ApiNameSchema.default("Handoff_Key__c"),
  /** The task's lookup to the record (`WhatId` for Task, `ParentId` for a note-like object). */
  link_field: ApiNameSchema.default("WhatId"),
  /** Only these handoff states get a task (e.g. a callback on handoff_failed); all when omitted. */
  states: z.array(z.string().min(1)).min(1).optional(),
  mapping: FieldMappingSchema.optional(),
});

export const SalesforceDestinationSchema = z.strictObject({
  type: z.literal("salesforce"),
  /** My Domain URL, e.g. https://acme.my.salesforce.com: token endpoint and REST API both live here. */
  instance_url: z.url({ protocol: /^https?$/, error: "must be the org's My Domain URL, https://..." }),
  api_version: z
    .string()
    .regex(/^\d{2,3}\.0$/, 'a REST API version such as "62.0"')
    // Upserts before 46.0 answer an update with 204 and no record id, which the ledger needs.
    .refine((version) => Number(version) >= 46, "46.0 or later")
    .default("62.0"),
  auth: SalesforceAuthSchema,
  object: ApiNameSchema.default("Case"),
  /** Must be an External ID field (and should be Unique) on `object`. */
  external_id_field: ApiNameSchema.default("Handoff_Key__c"),
  /** Number field receiving the handoff version, so the record shows which version it holds. */
  version_field: ApiNameSchema.default("Handoff_Version__c"),
  task: SalesforceTaskSchema.optional(),
  /** When the ledger's record was deleted in Salesforce: create it again, or park the destination. */
  on_missing_record: z.enum(["recreate", "park"]).default("recreate"),
  /** Concurrent deliveries share one sObject Collections upsert; omitted, each delivery sends its own. */
  batch: batchSchema(SALESFORCE_BATCH_LIMITS).optional(),
  ...destinationBase,
});
export type SalesforceDestination = z.infer<typeof SalesforceDestinationSchema>;
