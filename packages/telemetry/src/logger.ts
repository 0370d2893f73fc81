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

export function createLogger(settings: LoggerSettings): Logger {
  const unsafe = (settings.redact ?? []).filter((path) => !isSafeRedactPath(path));
  if (unsafe.length > 0) throw new Error(`unsafe log redact paths: ${unsafe.join(", ")}`);
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS, ...(settings.redact ?? [])], censor: "[Redacted]" },
    formatters: { level: (label) => ({ level: label }) },
    // `error` and `cause` too: kafkajs logs the error a handler threw under `error`.
    serializers: { err: serializeError, error: serializeError, cause: serializeError },
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}
