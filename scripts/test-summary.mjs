// Sums vitest JSON reports (one per stage of ./scripts/test) into the run's last line:
// `N passed, N failed`. Exits 1 when anything failed or a stage left no readable report, so the
// line can never read as a success the runners did not report.
//
//   node scripts/test-summary.mjs test-results/unit-integration.json test-results/chaos.json
//
// A test file that failed without a failed test (it could not be imported, a hook threw) counts
// as one failure, and so does a run that reported errors outside any test.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

/** @param {unknown} report @returns {{ passed: number, failed: number }} */
export function countReport(report) {
  if (typeof report !== "object" || report === null || !("numPassedTests" in report)) {
    throw new Error("not a vitest JSON report");
  }
  const r = /** @type {{ numPassedTests: number, numFailedTests: number, success?: boolean,
    testResults?: { status: string, assertionResults?: { status: string }[] }[] }} */ (report);
  let failed = r.numFailedTests;
  for (const file of r.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((t) => t.status === "failed").length;
    if (file.status === "failed" && failedTests === 0) failed += 1;
  }
  if (r.success === false && failed === 0) failed = 1;
  return { passed: r.numPassedTests, failed };
}

/**
 * @param {{ path: string, text?: string }[]} stages the report files, with their text when readable
 * @returns {{ line: string, ok: boolean, problems: string[] }}
 */
export function summarise(stages) {
  let passed = 0;
  let failed = 0;
  const problems = [];
  for (const stage of stages) {
    if (stage.text === undefined) {
      problems.push(`${stage.path}: no report (the stage stopped before writing it)`);
      continue;
    }
    try {
      const counted = countReport(JSON.parse(stage.text));
      passed += counted.passed;
      failed += counted.failed;
    } catch (error) {
      problems.push(`${stage.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { line: `${passed} passed, ${failed} failed`, ok: failed === 0 && problems.length === 0, problems };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const stages = process.argv.slice(2).map((path) => {
    try {
      return { path, text: readFileSync(path, "utf8") };
    } catch {
      return { path };
    }
  });
  const { line, ok, problems } = summarise(stages);
  for (const problem of problems) process.stderr.write(`test summary: ${problem}\n`);
  process.stdout.write(`${line}\n`);
  process.exitCode = ok ? 0 : 1;
}
