/** scripts/test-summary.mjs: the last line of ./scripts/test, summed from the stages' vitest JSON reports. */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../../scripts/test-summary.mjs", import.meta.url));

interface FileResult {
  status: "passed" | "failed";
  assertionResults: { status: "passed" | "failed" | "skipped" }[];
}

/** A vitest JSON report holding these files, with the totals vitest computes from them. */
function report(files: FileResult[], extra: { success?: boolean } = {}): string {
  const tests = files.flatMap((f) => f.assertionResults);
  const count = (status: string): number => tests.filter((t) => t.status === status).length;
  return JSON.stringify({
    numTotalTests: tests.length,
    numPassedTests: count("passed"),
    numFailedTests: count("failed"),
    numPendingTests: count("skipped"),
    success: extra.success ?? files.every((f) => f.status === "passed"),
    testResults: files.map((f, i) => ({ name: `/repo/f${i}.test.ts`, ...f })),
  });
}
const passing = (n: number): FileResult => ({
  status: "passed",
  assertionResults: Array.from({ length: n }, () => ({ status: "passed" as const })),
});

let calls = 0;
async function summary(
  ...reports: (string | undefined)[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  calls += 1;
  const paths = await Promise.all(
    reports.map(async (text, i) => {
      const path = join(dir, `run-${calls}-stage-${i}.json`);
      if (text !== undefined) await writeFile(path, text);
      return path;
    }),
  );
  return run(process.execPath, [script, ...paths]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? -1,
      stdout: error.stdout ?? "",
      stderr: error.stderr ?? "",
    }),
  );
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "test-summary-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("test summary", () => {
  it("sums every stage into one line and exits 0 when all passed", async () => {
    const result = await summary(report([passing(3), passing(2)]), report([passing(4)]));
    expect(result).toEqual({ code: 0, stdout: "9 passed, 0 failed\n", stderr: "" });
  });

  it("counts failures across stages and exits 1", async () => {
    const failing: FileResult = {
      status: "failed",
      assertionResults: [{ status: "passed" }, { status: "failed" }],
    };
    const result = await summary(report([passing(2), failing]), report([{ ...failing }]));
    expect(result.stdout).toBe("4 passed, 2 failed\n");
    expect(result.code).toBe(1);
  });

  it("counts a file that failed without a failed test (import error, hook), and errors outside tests", async () => {
    const unloadable: FileResult = { status: "failed", assertionResults: [] };
    expect((await summary(report([passing(1), unloadable]))).stdout).toBe("1 passed, 1 failed\n");
    const unhandled = await summary(report([passing(2)], { success: false }));
    expect(unhandled).toMatchObject({ code: 1, stdout: "2 passed, 1 failed\n" });
  });

  it("still prints the line, and fails, when a stage left no report or an unreadable one", async () => {
    const missing = await summary(report([passing(5)]), undefined);
    expect(missing.stdout).toBe("5 passed, 0 failed\n");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/stage-1\.json: no report/);
    const garbage = await summary("{ not json");
    expect(garbage).toMatchObject({ code: 1, stdout: "0 passed, 0 failed\n" });
  });

  it("prints 0 passed, 0 failed and exits 0 when no stage ran (the static checks stopped the run)", async () => {
    expect(await summary()).toEqual({ code: 0, stdout: "0 passed, 0 failed\n", stderr: "" });
  });
});
