import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

describe("infra/docker/Dockerfile fetch layer", () => {
  it("copies everything the lockfile is checked against before pnpm fetch", async () => {
    const dockerfile = await readFile(`${root}infra/docker/Dockerfile`, "utf8");
    const lockfile = await readFile(`${root}pnpm-lock.yaml`, "utf8");
    const beforeFetch = dockerfile.slice(0, dockerfile.indexOf("pnpm fetch"));
    const copied = [...beforeFetch.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => (m[1] ?? "").split(/\s+/));
    const needed = ["pnpm-lock.yaml", "pnpm-workspace.yaml", "package.json"];
    // pnpm refuses a frozen fetch when the pnpmfile's checksum or a patch named in the lockfile is missing.
    if (lockfile.includes("pnpmfileChecksum:")) needed.push(".pnpmfile.cjs");
    if (lockfile.includes("patchedDependencies:")) needed.push("patches");
    expect(copied).toEqual(expect.arrayContaining(needed));
  });
});
