import { z } from "zod";
import { SecretRefSchema } from "../secret-ref.js";
import { destinationBase, int } from "./base.js";
import { batchSchema, HUBSPOT_BATCH_LIMITS } from "./batch.js";

/** HubSpot internal property names: lowercase letters, digits and underscores. */
const PropertyNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_]*$/,
    "a HubSpot internal property name (lowercase letters, digits, '_'), such as handoff_key",
  );

/** Same shape as mapping paths; repeated here because the mapping schema does not export its path. */
const PathSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$/, "a dotted path such as data.hubspot_contact_id");

/** A private app's access token is static: nothing to renew, so a 401 parks the destination. */
export const HubSpotPrivateAppAuthSchema = z.strictObject({
  method: z.literal("private_app"),
  token: SecretRefSchema,
});

/** A public app: access tokens are minted from the refresh token and renewed by `expires_in`. */
export const HubSpotOAuthSchema = z.strictObject({
  method: z.literal("oauth"),
  client_id: z.string().min(1),
  client_secret: SecretRefSchema,
  refresh_token: SecretRefSchema,
});

export const HubSpotAuthSchema = z.discriminatedUnion("method", [
  HubSpotPrivateAppAuthSchema,
  HubSpotOAuthSchema,
]);

/** Links the written record to a contact the handoff names, through the v4 associations API. */
export const HubSpotContactAssociationSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Where the contact's HubSpot record id is in the handoff; no value there, no association. */
  path: PathSchema.default("data.hubspot_contact_id"),
  /** 16 is HubSpot's ticket -> contact type; other objects need their own (see docs/adapters/hubspot.md). */
  association_type_id: int(1, 1_000_000).default(16),
  association_category: z
    .enum(["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"])
    .default("HUBSPOT_DEFINED"),
});

export const HubSpotDestinationSchema = z
  .strictObject({
    type: z.literal("hubspot"),
    base_url: z
      .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
      .default("https://api.hubapi.com"),
    auth: HubSpotAuthSchema,
    /** `tickets`, another standard object (`contacts`, `deals`, ...) or a custom object's type id such as `2-1234567`. */
    object: z
      .string()
      .regex(
        /^([a-z][a-z0-9_]*|\d+-\d+)$/,
        "an object type name such as tickets, or a custom object's type id such as 2-1234567",
      )
      .default("tickets"),
    /** Must be a property with unique values on that object in HubSpot: it is the upsert key. */
    id_property: PropertyNameSchema.default("handoff_key"),
    /** A number property that receives the handoff version on every write. */
    version_property: PropertyNameSchema.default("handoff_version"),
    contact_association: HubSpotContactAssociationSchema.prefault({}),
    /** What to do when the record the ledger names was deleted in HubSpot. */
    on_missing_record: z.enum(["recreate", "park"]).default("recreate"),
    /** Concurrent deliveries share one batch upsert; omitted, each delivery sends its own. */
    batch: batchSchema(HUBSPOT_BATCH_LIMITS).optional(),
    ...destinationBase,
  })
  .superRefine((destination, ctx) => {
    // The default mapping writes ticket properties (hs_pipeline, ...): other objects would refuse them.
    if (destination.object !== "tickets" && destination.mapping === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["mapping"],
        message: `object "${destination.object}" needs a mapping: the default mapping writes ticket properties`,
      });
    }
    if (destination.id_property === destination.version_property) {
      ctx.addIssue({ code: "custom", path: ["version_property"], message: "must differ from id_property" });
    }
  });
export type HubSpotDestination = z.infer<typeof HubSpotDestinationSchema>;
