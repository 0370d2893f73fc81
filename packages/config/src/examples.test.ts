import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadDestinationsFile } from "./load-destinations.js";

const examplesDir = fileURLToPath(new URL("../../../examples/", import.meta.url));
const files = (await readdir(examplesDir)).filter((name) => name.endsWith(".yaml"));

// Every `env:` reference resolves to a placeholder: the examples are checked for shape, not secrets.
// HANDOFF_SECRETS_DIRS is the service's setting, not a secret: left unset.
const anyEnv = new Proxy<Record<string, string>>(
  {},
  {
    get: (_target, name) =>
      typeof name === "string" && name !== "HANDOFF_SECRETS_DIRS" ? `placeholder-${name}` : undefined,
  },
);

describe("examples/*.yaml", () => {
  it("has examples", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)("%s is a valid destinations file", async (name) => {
    await expect(loadDestinationsFile(`${examplesDir}${name}`, anyEnv)).resolves.toHaveProperty("version", 1);
  });
});
