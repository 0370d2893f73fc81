import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { isAbsolute, relative, resolve } from "node:path";
import { z } from "zod";
import { UsageError, type CliContext } from "./command.js";

/** Options every command takes. */
export const COMMON_OPTIONS = {
  json: { type: "boolean", default: false },
} as const satisfies ParseArgsOptionsConfig;

/**
 * `parseArgs` in strict mode, with its errors (unknown option, missing value) as UsageError and the
 * number of positionals checked.
 */
export function parseCommandArgs<const O extends ParseArgsOptionsConfig>(
  args: readonly string[],
  options: O,
  positionals: { readonly max: number; readonly names?: string },
) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.positionals.length > positionals.max) {
    const extra = parsed.positionals.slice(positionals.max).join(" ");
    throw new UsageError(
      positionals.max === 0
        ? `unexpected argument: ${extra}`
        : `too many arguments: ${extra} (expected ${positionals.names ?? positionals.max})`,
    );
  }
  return parsed;
}

export function resolvePath(context: CliContext, path: string): string {
  return isAbsolute(path) ? path : resolve(context.cwd, path);
}

/** The destinations file: the argument, else `HANDOFF_SYNC_CONFIG` (empty counts as unset). */
export function configFileOf(context: CliContext, given: string | undefined, flag: string): string {
  const fromEnv = context.env["HANDOFF_SYNC_CONFIG"]?.trim();
  const file = given ?? (fromEnv === "" ? undefined : fromEnv);
  if (file === undefined)
    throw new UsageError(`no destinations file: give ${flag} or set HANDOFF_SYNC_CONFIG`);
  return file;
}

/** A path as people gave it: relative to the working directory when inside it. */
export function displayPath(context: CliContext, path: string): string {
  const shown = relative(context.cwd, path);
  return shown === "" || shown.startsWith("..") || isAbsolute(shown) ? path : shown;
}

const InstantSchema = z.iso.datetime({ offset: true });

/** An ISO 8601 instant with a zone (`2026-01-15T09:30:00Z`), as the API takes it; else a usage error. */
export function instantOption(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!InstantSchema.safeParse(value).success)
    throw new UsageError(
      `${flag} must be an ISO 8601 instant with a zone, e.g. 2026-01-15T09:30:00Z; got "${value}"`,
    );
  return value;
}

/** A whole number within bounds; else a usage error. */
export function integerOption(
  value: string | undefined,
  flag: string,
  bounds: { readonly min: number; readonly max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < bounds.min || number > bounds.max)
    throw new UsageError(
      `${flag} must be a whole number from ${bounds.min} to ${bounds.max}; got "${value}"`,
    );
  return number;
}

/** An option the command cannot run without. */
export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError(`${flag} is required`);
  return value;
}
