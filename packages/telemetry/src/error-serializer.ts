// Drivers decorate their errors with what they were doing: ioredis adds `command: { name, args }`
// (the AUTH password, a whole snapshot passed to a script), kafkajs keeps `cause` chains and broker
// names. pino's default serializer copies every enumerable property, so a log line would carry all of
// it. This one copies what helps an operator and nothing that can hold a credential or a record.

/** Properties that hold a command's or request's payload, a credential or a record: never logged. */
const DROPPED = new Set([
  "args",
  "argv",
  "arguments",
  "password",
  "pass",
  "secret",
  "token",
  "apikey",
  "authorization",
  "cookie",
  "headers",
  "body",
  "data",
  "payload",
  "request",
  "response",
  "buffer",
  "value",
  "values",
]);

/** Properties that hold further errors, serialised the same way. */
const NESTED_ERRORS = new Set(["cause", "originalError", "previousErrors", "errors"]);

const MAX_DEPTH = 5;
const MAX_STRING = 2048;
const MAX_ITEMS = 20;

/** Userinfo in a URL (`redis://user:password@host`): the password part is replaced. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi;

export function scrubText(text: string): string {
  const scrubbed = text.replace(URL_PASSWORD, "$1[Redacted]@");
  return scrubbed.length > MAX_STRING ? `${scrubbed.slice(0, MAX_STRING)}…` : scrubbed;
}

export interface SerializedError {
  readonly type: string;
  readonly message: string;
  readonly stack?: string;
  readonly [field: string]: unknown;
}

function isErrorLike(value: unknown): value is Error {
  return (
    value instanceof Error ||
    (typeof value === "object" && value !== null && "message" in value && "stack" in value)
  );
}

function scalar(value: unknown): string | number | boolean | null | undefined {
  if (value === null) return null;
  if (typeof value === "string") return scrubText(value);
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return value.toISOString();
  return undefined;
}

/** Plain data below an error (a ConfigError's problems, say), with the same keys dropped. */
function plain(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  const simple = scalar(value);
  if (simple !== undefined || value === null) return simple;
  if (typeof value !== "object" || depth > MAX_DEPTH || seen.has(value)) return undefined;
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (isErrorLike(value)) return serialize(value, depth + 1, seen);
  seen.add(value);
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((item: unknown) => plain(item, depth + 1, seen));
    return value.length > MAX_ITEMS ? [...items, `… ${value.length - MAX_ITEMS} more`] : items;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (DROPPED.has(key.toLowerCase())) continue;
    const copied = plain(item, depth + 1, seen);
    if (copied !== undefined) out[key] = copied;
  }
  return out;
}

function serialize(error: Error, depth: number, seen: WeakSet<object>): SerializedError | string {
  if (seen.has(error) || depth > MAX_DEPTH) return "[error already shown or nested too deep]";
  seen.add(error);
  const out: Record<string, unknown> = {
    type: error.constructor === Object ? "Error" : error.constructor.name,
    name: typeof error.name === "string" ? error.name : "Error",
    message: scrubText(String(error.message)),
  };
  if (typeof error.stack === "string") out.stack = scrubText(error.stack);
  // Own enumerable properties: kafkajs' retriable, code, type, broker, retryCount; ours' retryable,
  // status, reason; ioredis' command. `cause` set by `super(message, { cause })` and AggregateError's
  // `errors` are not enumerable.
  const hidden = ["cause", "errors"].filter((key) => Object.prototype.hasOwnProperty.call(error, key));
  const keys = new Set([...Object.keys(error), ...hidden]);
  for (const key of keys) {
    if (DROPPED.has(key.toLowerCase())) continue;
    const value: unknown = (error as unknown as Record<string, unknown>)[key];
    if (key === "command") {
      // Which command failed helps; its arguments are the password or the customer's data.
      const name =
        typeof value === "object" && value !== null && "name" in value ? scalar(value.name) : undefined;
      if (name !== undefined) out.command = { name };
      continue;
    }
    if (NESTED_ERRORS.has(key)) {
      const nested = Array.isArray(value)
        ? value
            .slice(0, MAX_ITEMS)
            .map((item: unknown) =>
              isErrorLike(item) ? serialize(item, depth + 1, seen) : plain(item, depth + 1, seen),
            )
        : isErrorLike(value)
          ? serialize(value, depth + 1, seen)
          : plain(value, depth + 1, seen);
      if (nested !== undefined) out[key] = nested;
      continue;
    }
    const copied = plain(value, depth + 1, seen);
    if (copied !== undefined) out[key] = copied;
  }
  return out as SerializedError;
}

/**
 * pino's `err` serializer: type, name, message, stack, code and the other scalar fields of an error
 * and of its causes (`cause`, `errors`, `previousErrors`, `originalError`), without command
 * arguments, request or response bodies, headers or credentials, and with passwords in URLs
 * replaced. Anything that is not an error is returned as it is.
 */
export function serializeError(value: unknown): unknown {
  return isErrorLike(value) ? serialize(value, 0, new WeakSet()) : value;
}
