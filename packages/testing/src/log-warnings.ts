/** A line a process wrote that an operator would have to look at: a warning or worse. */
export interface WarningLine {
  readonly source: string;
  readonly line: string;
  readonly why: "log level" | "node warning";
}

/** pino's numeric level for `warn`; `error` (50) and `fatal` (60) are above it. */
const PINO_WARN = 40;
/** The services log level labels (telemetry's formatter); other pino users log the numbers. */
const LABELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** `(node:1234) TimeoutNegativeWarning: ...`, `(node:1234) [DEP0040] DeprecationWarning: ...`. */
const NODE_WARNING = /^\(node:\d+\) (?:\[[A-Z0-9_]+\] )?\w*Warning: /;

function pinoLevel(line: string): number | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== "object" || parsed === null || !("level" in parsed)) return undefined;
    if (typeof parsed.level === "number") return parsed.level;
    return typeof parsed.level === "string" ? LABELS[parsed.level] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The lines of a service's output (stdout and stderr, one entry a line) at warn level or above,
 * and Node's process warnings. A healthy service writes none: a warning that is always there
 * teaches operators to ignore the one that matters.
 */
export function findWarnings(source: string, lines: readonly string[]): WarningLine[] {
  const found: WarningLine[] = [];
  for (const line of lines) {
    const level = pinoLevel(line);
    if (level !== undefined) {
      if (level >= PINO_WARN) found.push({ source, line, why: "log level" });
    } else if (NODE_WARNING.test(line) || /\bWarning: /.test(line)) {
      found.push({ source, line, why: "node warning" });
    }
  }
  return found;
}
