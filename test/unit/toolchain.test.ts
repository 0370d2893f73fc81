import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
// The toolchain this test runs on: its Node is <toolchain>/node_modules/node/bin/node.
const installed = resolve(process.execPath, "../../../..");

describe("scripts/toolchain.sh", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps an installed toolchain when the caller's NODE_OPTIONS holds a flag Node refuses", () => {
    const dir = mkdtempSync(join(tmpdir(), "handoff-sync-toolchain-"));
    dirs.push(dir);
    symlinkSync(join(installed, "node_modules"), join(dir, "node_modules"));
    writeFileSync(join(dir, ".complete"), "");
    const out = execFileSync(
      "bash",
      ["-c", "source scripts/toolchain.sh && handoff_sync_toolchain && command -v node"],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: dir,
          HANDOFF_SYNC_TOOLCHAIN_DIR: dir,
          NODE_OPTIONS: "--no-such-flag",
        },
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    expect(out.trim()).toBe(join(dir, "node_modules", ".bin", "node"));
    expect(existsSync(join(dir, ".complete"))).toBe(true);
  });
});
