import { propertyProblem, type PropertyProblem } from "./error-bodies.js";

/** A property as the HubSpot portal declares it; only what the fake checks. */
export interface HubSpotPropertyDefinition {
  readonly name: string;
  readonly type: "string" | "number" | "enumeration" | "bool" | "datetime";
  /** Only properties with unique values can be an upsert `idProperty`. */
  readonly hasUniqueValue?: boolean;
  /** Allowed values of an enumeration. */
  readonly options?: readonly string[];
}

export type HubSpotObjectSchemas = Readonly<Record<string, readonly HubSpotPropertyDefinition[]>>;

const handoffProperties: readonly HubSpotPropertyDefinition[] = [
  { name: "handoff_key", type: "string", hasUniqueValue: true },
  { name: "handoff_version", type: "number" },
  { name: "handoff_state", type: "string" },
];

/**
 * A portal where the admin has done the documented set-up: the handoff properties exist on tickets and
 * contacts, and `handoff_key` has unique values.
 */
export const DEFAULT_HUBSPOT_SCHEMAS: HubSpotObjectSchemas = {
  tickets: [
    { name: "subject", type: "string" },
    { name: "content", type: "string" },
    { name: "hs_pipeline", type: "string" },
    { name: "hs_pipeline_stage", type: "string" },
    { name: "hs_ticket_priority", type: "enumeration", options: ["LOW", "MEDIUM", "HIGH", "URGENT"] },
    { name: "hs_ticket_category", type: "string" },
    ...handoffProperties,
  ],
  contacts: [
    { name: "email", type: "string" },
    { name: "firstname", type: "string" },
    { name: "lastname", type: "string" },
    ...handoffProperties,
  ],
};

/** Properties HubSpot maintains itself: readable, never written by clients. */
export const READ_ONLY_PROPERTIES = new Set([
  "hs_object_id",
  "hs_createdate",
  "hs_lastmodifieddate",
  "createdate",
]);

/** HubSpot stores every property value as a string; null clears it. */
export function storedValue(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** The value problems HubSpot reports per input (in a 207), as opposed to unknown properties (a 400). */
export function valueProblems(
  definitions: readonly HubSpotPropertyDefinition[],
  properties: Readonly<Record<string, unknown>>,
): PropertyProblem[] {
  const problems: PropertyProblem[] = [];
  for (const [name, raw] of Object.entries(properties)) {
    const definition = definitions.find((d) => d.name === name);
    const value = storedValue(raw);
    if (definition === undefined || value === null || value === "") continue;
    if (definition.type === "number" && !/^-?\d+(\.\d+)?$/.test(value)) {
      problems.push(
        propertyProblem(name, "INVALID_INTEGER", `${value} is not a valid number. Enter a number.`),
      );
    }
    if (
      definition.type === "enumeration" &&
      definition.options !== undefined &&
      !definition.options.includes(value)
    ) {
      problems.push(
        propertyProblem(
          name,
          "INVALID_OPTION",
          `${value} was not one of the allowed options: [${definition.options.join(", ")}]`,
        ),
      );
    }
  }
  return problems;
}
