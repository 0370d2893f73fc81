import { pino, type Logger, type LoggerOptions } from "pino";
import { serializeError } from "./error-serializer.js";

export type { Logger } from "pino";

// Paths are fixed here, never taken from user input: pino compiles them into code.
const REDACT_PATHS = [
  "password",
  "secret",
  "token",
  "apiKey",
  "authorization",
  "*.password",
  "*.secret",
  "*.token",
  "*.apiKey",
  "*.authorization",
  "headers.authorization",
  "headers.cookie",
  "headers['x-api-key']",
  "req.headers.authorization",
  "req.headers['x-api-key']",
  "req.headers.cookie",
];

const SEGMENT = String.raw`(?:[A-Za-z_$][\w$]*|\*)`;
const REDACT_PATH = new RegExp(String.raw`^${SEGMENT}(?:\.${SEGMENT}){0,7}$`);

/**
 * Whether a configured redact path is safe to hand to pino, which compiles paths into code:
 * dotted identifiers, `*` for any one key, at least one named key, at most eight levels.
 */
export function isSafeRedactPath(path: string): boolean {
  return REDACT_PATH.test(path) && path.split(".").some((segment) => segment !== "*");
}

export interface LoggerSettings {
  readonly level: string;
  readonly service: string;
  /** Extra paths to redact, e.g. PII fields named in config: `data.email`. Checked with `isSafeRedactPath`. */
  readonly redact?: readonly string[];
  readonly destination?: pino.DestinationStream;
}

/**
 * Lines wait in memory until this many bytes are ready or `LOG_FLUSH_MS` passed, then leave in one
 * write: a busy worker wrote a line per delivery, each its own system call on a thread of the
 * pool, a tenth of its busy time (decision 0022). Pino writes what is held synchronously when the
 * process exits, `process.exit` on a fatal error included; a SIGKILL loses at most this window.
 */
export const LOG_BUFFER_BYTES = 4096;
export const LOG_FLUSH_MS = 100;

/** Standard output, written in batches (see `LOG_BUFFER_BYTES`). */
export function bufferedStdout(): pino.DestinationStream {
  return pino.destination({
    dest: 1,
    sync: false,
    minLength: LOG_BUFFER_BYTES,
    periodicFlush: LOG_FLUSH_MS,
  });
}

/** The redact paths a logger of `createLogger` was built with; children see it through their prototype. */
const redactPathsSym = Symbol("handoff-sync.redactPaths");

export function createLogger(settings: LoggerSettings): Logger {
  const unsafe = (settings.redact ?? []).filter((path) => !isSafeRedactPath(path));
  if (unsafe.length > 0) throw new Error(`unsafe log redact paths: ${unsafe.join(", ")}`);
  const paths = [...REDACT_PATHS, ...(settings.redact ?? [])];
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths, censor: "[Redacted]" },
    formatters: { level: (label) => ({ level: label }) },
    // `error` and `cause` too: kafkajs logs the error a handler threw under `error`.
    serializers: { err: serializeError, error: serializeError, cause: serializeError },
  };
  const logger = pino(options, settings.destination ?? bufferedStdout());
  Object.defineProperty(logger, redactPathsSym, { value: Object.freeze(paths) });
  return logger;
}

/** The first segment of a redact path: `data.email` -> `data`, `headers['x-api-key']` -> `headers`. */
const firstSegment = (path: string): string => /^[^.[]*/.exec(path)?.[0] ?? path;

/**
 * A logger for a hot line whose fields are all primitives named in `fields` (a delivery's success
 * line): it writes what `log` would, without pino's redaction, which walks every field of every
 * line for the wildcard paths and was the largest allocation of a busy worker. A redact path can
 * only reach such a line through its first segment, so when no path of `log` starts with one of
 * the fields the line has nothing to redact; otherwise, or for a logger not made by
 * `createLogger`, `log` itself is returned and redacts as always.
 */
export function loggerForPlainFields(log: Logger, fields: readonly string[]): Logger {
  const paths = (log as unknown as Record<symbol, readonly string[] | undefined>)[redactPathsSym];
  if (paths === undefined) return log;
  const named = new Set(fields);
  if (paths.some((path) => named.has(firstSegment(path)))) return log;
  return log.child({}, { redact: [] });
}
