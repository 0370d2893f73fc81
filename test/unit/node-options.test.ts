import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SERVICE_NODE_OPTIONS } from "@handoff-sync/testing";
import { describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string): string => readFileSync(join(repoRoot, path), "utf8");

// Tests and the bench start services with SERVICE_NODE_OPTIONS; production must run the same flags,
// or the memory the bench reports is not what a deployment gets.
describe("the services' V8 flags", () => {
  it("are the same in the container image, the start scripts and the test harness", () => {
    const env = /NODE_OPTIONS="([^"]*)"/.exec(read("infra/docker/Dockerfile"));
    expect(env?.[1]).toBe(SERVICE_NODE_OPTIONS);
    for (const service of ["consumer", "worker", "api"]) {
      const pkg = JSON.parse(read(`services/${service}/package.json`)) as { scripts: { start: string } };
      expect(pkg.scripts.start).toBe(`node ${SERVICE_NODE_OPTIONS} dist/main.js`);
    }
  });
});
