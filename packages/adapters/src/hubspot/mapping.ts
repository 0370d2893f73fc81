import type { FieldMapping, HubSpotDestination } from "@handoff-sync/config";
import type { HandoffSnapshot } from "@handoff-sync/schema";
import { applyMapping, readPath } from "../mapping/evaluate.js";
import { mappingView } from "../mapping/view.js";

/**
 * Used when a `tickets` destination has no `mapping`. Stages go to the default ticket pipeline
 * ("0"): New (1) while a human should pick it up, Waiting on us (3) after a failed handoff, Closed (4)
 * once completed. Portals with their own pipeline map `hs_pipeline` and `hs_pipeline_stage` themselves.
 */
export const HUBSPOT_DEFAULT_MAPPING: FieldMapping = {
  subject: { template: "Handoff {{key}}: {{state}}", truncate: 255 },
  content: { template: "{{reason}}", default: "Conversation handed off to a live agent." },
  hs_pipeline: { literal: "0" },
  hs_pipeline_stage: { path: "stage", lookup: { initiated: "1", failed: "3", completed: "4" } },
  handoff_state: { path: "state" },
};

type Settings = Pick<
  HubSpotDestination,
  "id_property" | "version_property" | "mapping" | "contact_association"
>;

/** HubSpot stores text; numbers and booleans are sent as their string form, objects as JSON. */
function propertyValue(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/**
 * The properties of one write. The key and version are set last so no mapping can change what the
 * upsert matches on or hide the version from the write log.
 */
export function hubSpotProperties(
  snapshot: HandoffSnapshot,
  destination: string,
  settings: Settings,
): Record<string, string | null> {
  const mapped = applyMapping(
    settings.mapping ?? HUBSPOT_DEFAULT_MAPPING,
    mappingView(snapshot, destination),
  );
  const properties: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(mapped)) properties[name] = propertyValue(value);
  properties[settings.id_property] = snapshot.key;
  properties[settings.version_property] = String(snapshot.version);
  return properties;
}

export interface HubSpotUpsertBody {
  readonly inputs: readonly [
    { readonly idProperty: string; readonly id: string; readonly properties: Record<string, string | null> },
  ];
}

export function hubSpotUpsertBody(
  key: string,
  idProperty: string,
  properties: Record<string, string | null>,
): HubSpotUpsertBody {
  return { inputs: [{ idProperty, id: key, properties }] };
}

export type ContactReference =
  | { readonly kind: "none" }
  | { readonly kind: "invalid" }
  | { readonly kind: "contact"; readonly id: string };

/** The contact the handoff names, if any (and associating is on); `invalid` when the value cannot be a record id. */
export function contactToAssociate(
  snapshot: HandoffSnapshot,
  destination: string,
  settings: Settings,
): ContactReference {
  if (!settings.contact_association.enabled) return { kind: "none" };
  const value = readPath(mappingView(snapshot, destination), settings.contact_association.path);
  if (value === undefined || value === null || value === "") return { kind: "none" };
  const id = typeof value === "number" ? String(value) : value;
  return typeof id === "string" && /^\d{1,20}$/.test(id) ? { kind: "contact", id } : { kind: "invalid" };
}

export function associationBody(
  settings: Settings,
): readonly [{ associationCategory: string; associationTypeId: number }] {
  return [
    {
      associationCategory: settings.contact_association.association_category,
      associationTypeId: settings.contact_association.association_type_id,
    },
  ];
}
