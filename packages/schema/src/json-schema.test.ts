import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  HANDOFF_EVENT_JSON_SCHEMA_PATH,
  handoffEventJsonSchema,
  renderHandoffEventJsonSchema,
} from "./json-schema.js";

const committed = fileURLToPath(new URL(`../../../${HANDOFF_EVENT_JSON_SCHEMA_PATH}`, import.meta.url));

describe("handoff event JSON Schema", () => {
  // After changing HandoffEventSchema, regenerate the committed file with:
  //   UPDATE_SCHEMAS=1 pnpm test:unit packages/schema
  it(`matches the committed ${HANDOFF_EVENT_JSON_SCHEMA_PATH}`, async () => {
    if (process.env["UPDATE_SCHEMAS"] === "1") await writeFile(committed, renderHandoffEventJsonSchema());
    // Compared as data, so formatting by prettier or an editor does not matter.
    const onDisk: unknown = JSON.parse(await readFile(committed, "utf8"));
    expect(onDisk).toEqual(handoffEventJsonSchema());
  });

  it("describes the producer's view: defaults optional, unknown fields refused", () => {
    const schema = handoffEventJsonSchema();
    expect(schema["required"]).toEqual(["event_id", "id", "state", "occurred_at"]);
    expect(schema["additionalProperties"]).toBe(false);
  });
});
