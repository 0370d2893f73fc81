import { z } from "zod";
import { DestinationsFileSchema } from "./destinations-schema.js";
import { SecretRefSchema } from "./secret-ref.js";

/** Repository path of the committed JSON Schema, for editors (YAML language servers) and CI. */
export const DESTINATIONS_JSON_SCHEMA_PATH = "docs/schemas/destinations.v1.json";

/** What a secret reference looks like as written; the transform behind it has no JSON Schema. */
const SECRET_REF_PATTERN = "^(env|file):";

function isPreprocessedList(schema: z.core.$ZodType): schema is z.ZodPipe<z.ZodTransform, z.ZodArray> {
  return (
    schema instanceof z.ZodPipe && schema.in instanceof z.ZodTransform && schema.out instanceof z.ZodArray
  );
}

/**
 * The destinations file as people write it (defaults not yet applied), as JSON Schema 2020-12.
 * Two input forms zod cannot describe are written out here: a secret reference is a string starting
 * with `env:` or `file:`, and a list preprocessed from a single value (`secret: env:X`) also accepts
 * that single value.
 */
export function destinationsFileJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(DestinationsFileSchema, {
    io: "input",
    unrepresentable: "any",
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema === SecretRefSchema) {
        jsonSchema.pattern = SECRET_REF_PATTERN;
        jsonSchema.description =
          'A secret reference: "env:VAR_NAME" or "file:/path/to/secret", never the secret itself.';
      } else if (isPreprocessedList(zodSchema)) {
        const list = { ...jsonSchema };
        for (const key of Object.keys(jsonSchema)) delete jsonSchema[key];
        const item = typeof list.items === "object" && !Array.isArray(list.items) ? list.items : {};
        jsonSchema.anyOf = [item, list];
      }
    },
  });
  return {
    ...schema,
    title: "handoff-sync destinations file v1",
    description:
      "Where handoffs are delivered: destinations, routes, custom states. See docs/configuration.md.",
  };
}

export function renderDestinationsFileJsonSchema(): string {
  return `${JSON.stringify(destinationsFileJsonSchema(), null, 2)}\n`;
}
