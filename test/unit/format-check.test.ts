import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { simpleCommands } from "./doc-commands.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const prettier = join(root, "node_modules/prettier/bin/prettier.cjs");

/** Prettier with the repository's settings and ignore file, as `pnpm lint` runs it. */
async function prettierCheck(...paths: string[]): Promise<{ code: number; output: string }> {
  const args = [
    "--check",
    "--config",
    join(root, ".prettierrc.json"),
    "--ignore-path",
    join(root, ".prettierignore"),
  ];
  return run(process.execPath, [prettier, ...args, ...paths], { cwd: root }).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? -1,
      output: `${error.stdout ?? ""}${error.stderr ?? ""}`,
    }),
  );
}

// Each check starts a Prettier process; on a busy two-core machine that takes seconds.
describe("formatting is part of lint", { timeout: 60_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "format-check-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lint runs prettier --check over the whole repository, after ESLint", async () => {
    const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const commands = simpleCommands(pkg.scripts.lint ?? "");
    expect(commands.map((c) => c.program)).toEqual(["eslint", "prettier"]);
    expect(commands[1]?.args).toContain("--check");
    expect(commands[1]?.args.at(-1)).toBe(".");
  });

  it("fails on an unformatted file and passes once it is formatted", async () => {
    const file = join(dir, "unformatted.ts");
    await writeFile(file, "export const  answer = {a:1,b:'two'}\n");
    const before = await prettierCheck(file);
    expect(before.code).not.toBe(0);
    expect(before.output).toContain("unformatted.ts");
    await writeFile(file, 'export const answer = { a: 1, b: "two" };\n');
    expect((await prettierCheck(file)).code).toBe(0);
  });

  it("checks the sources and leaves out only generated files", async () => {
    const info = async (path: string): Promise<boolean> => {
      const { stdout } = await run(
        process.execPath,
        [prettier, "--file-info", path, "--ignore-path", join(root, ".prettierignore")],
        { cwd: root },
      );
      return (JSON.parse(stdout) as { ignored: boolean }).ignored;
    };
    for (const source of [
      "packages/kafka/src/client.ts",
      "test/e2e/clean-logs.integration.test.ts",
      "package.json",
    ]) {
      expect(await info(source), source).toBe(false);
    }
    for (const generated of [
      "docs/openapi.json",
      "docs/schemas/destinations.v1.json",
      "packages/cli/dist/main.js",
    ]) {
      expect(await info(generated), generated).toBe(true);
    }
  });
});
