import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SERVICE_MALLOC_ARENA_MAX, SERVICE_NODE_OPTIONS } from "@handoff-sync/testing";
import { describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string): string => readFileSync(join(repoRoot, path), "utf8");

// Tests and the bench start services with SERVICE_NODE_OPTIONS; production must run the same flags,
// or the memory the bench reports is not what a deployment gets.
describe("the services' V8 flags", () => {
  it("are the same in the container image, the start scripts and the test harness", () => {
    const dockerfile = read("infra/docker/Dockerfile");
    expect(/NODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1]).toBe(SERVICE_NODE_OPTIONS);
    expect(/MALLOC_ARENA_MAX=(\S+)/.exec(dockerfile)?.[1]).toBe(SERVICE_MALLOC_ARENA_MAX);
    for (const service of ["consumer", "worker", "api"]) {
      const pkg = JSON.parse(read(`services/${service}/package.json`)) as { scripts: { start: string } };
      expect(pkg.scripts.start).toBe(
        `MALLOC_ARENA_MAX=${SERVICE_MALLOC_ARENA_MAX} node ${SERVICE_NODE_OPTIONS} dist/main.js`,
      );
    }
  });
});
