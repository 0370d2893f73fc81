import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  DESTINATIONS_JSON_SCHEMA_PATH,
  destinationsFileJsonSchema,
  renderDestinationsFileJsonSchema,
} from "./json-schema.js";

const committed = fileURLToPath(new URL(`../../../${DESTINATIONS_JSON_SCHEMA_PATH}`, import.meta.url));

type Json = Record<string, unknown>;
const at = (value: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>(
    (node, key) => (node !== null && typeof node === "object" ? (node as Json)[key] : undefined),
    value,
  );

describe("destinations file JSON Schema", () => {
  // After changing the destinations schema (or adding a destination type), regenerate the committed file with:
  //   UPDATE_SCHEMAS=1 pnpm test:unit packages/config
  it(`matches the committed ${DESTINATIONS_JSON_SCHEMA_PATH}`, async () => {
    if (process.env["UPDATE_SCHEMAS"] === "1") await writeFile(committed, renderDestinationsFileJsonSchema());
    // Compared as data, so formatting by prettier or an editor does not matter.
    const onDisk: unknown = JSON.parse(await readFile(committed, "utf8"));
    expect(onDisk).toEqual(destinationsFileJsonSchema());
  });

  const schema = destinationsFileJsonSchema();
  const webhook = (
    at(schema, "properties", "destinations", "additionalProperties", "oneOf") as Json[] | undefined
  )?.find((option) => at(option, "properties", "type", "const") === "webhook");

  it("describes the author's view: strict objects, defaults optional", () => {
    expect(schema["required"]).toEqual(["version", "destinations"]);
    expect(schema["additionalProperties"]).toBe(false);
    expect(webhook?.["additionalProperties"]).toBe(false);
    expect(webhook?.["required"]).toEqual(["type", "url", "secret"]);
  });

  it("describes secret references as strings, and a single one where a list is preprocessed", () => {
    const secret = at(webhook, "properties", "secret", "anyOf");
    expect(secret).toEqual([
      expect.objectContaining({ type: "string", pattern: "^(env|file):" }),
      expect.objectContaining({
        type: "array",
        items: expect.objectContaining({ pattern: "^(env|file):" }) as unknown,
      }),
    ]);
  });

  it("includes routing, fallbacks and rate limits", () => {
    const route = at(schema, "properties", "routes", "items", "properties");
    expect(Object.keys(at(route, "match", "properties") as Json)).toEqual([
      "states",
      "stages",
      "channels",
      "destinations",
      "reasons",
    ]);
    expect(at(route, "on_failed", "type")).toBe("array");
    expect(at(webhook, "properties", "rate_limit", "required")).toEqual(["max", "duration_ms"]);
  });
});
