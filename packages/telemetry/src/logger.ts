import { pino, type Logger, type LoggerOptions } from "pino";

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

export interface LoggerSettings {
  readonly level: string;
  readonly service: string;
  /** Extra paths to redact, e.g. PII fields named in config: `snapshot.data.email`. */
  readonly redact?: readonly string[];
  readonly destination?: pino.DestinationStream;
}

export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS, ...(settings.redact ?? [])], censor: "[Redacted]" },
    formatters: { level: (label) => ({ level: label }) },
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}
