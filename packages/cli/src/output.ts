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

/** A duration for people: `850ms`, `42s`, `3m12s`, `5h03m`, `2d04h`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const seconds = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h${two(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d${two(Math.floor(seconds / 3600) % 24)}h`;
}

/** A cell for a value the API may leave out: `-`. */
export function cell(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === "" ? "-" : String(value);
}

/** Text cut to one table cell: newlines folded, long messages shortened with an ellipsis. */
export function oneLine(text: string, max = 100): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Labelled values for one record, the labels padded to line the values up. */
export function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([label]) => label.length));
  return pairs.map(([label, value]) => `${`${label}:`.padEnd(width + 2)}${value}\n`).join("");
}
