import { formatProblem, type ConfigProblem } from "@handoff-sync/config";

/** Pretty JSON for `--json`: one document per run, so scripts can pipe it to `jq`. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A plain-text table for people: a header row, columns padded to their widest cell. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].map((text) => `${text}\n`).join("");
}

/**
 * Problems as `file:line: path: message`, the form editors and CI annotate as a link to the line;
 * without a line it falls back to the config package's own format.
 */
export function problemLines(problems: readonly ConfigProblem[]): string {
  return problems
    .map((problem) => {
      if (problem.file === undefined || problem.line === undefined) return `${formatProblem(problem)}\n`;
      const where = problem.path === "" ? "" : `${problem.path}: `;
      return `${problem.file}:${problem.line}: ${where}${problem.message}\n`;
    })
    .join("");
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
