import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

// Runs the built CLI as users do; the test command builds (tsc -b tsconfig.build.json) before testing.
const root = fileURLToPath(new URL("../../../", import.meta.url));
const main = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const run = promisify(execFile);

describe("the handoff-sync binary", () => {
  it("validates an example config with exit code 0", async () => {
    const { stdout } = await run(process.execPath, [main, "config", "validate", "examples/webhook.yaml"], {
      cwd: root,
      env: { PATH: process.env["PATH"] ?? "" },
    });
    expect(stdout).toMatch(/^examples\/webhook\.yaml is valid: /);
  });

  it("exits 2 on a usage error, with the message on stderr", async () => {
    const failure: unknown = await run(process.execPath, [main, "config", "validat"], { cwd: root }).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({
      code: 2,
      stdout: "",
      stderr: expect.stringContaining('did you mean "config validate"?') as unknown,
    });
  });
});
