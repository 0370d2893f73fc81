import { z } from "zod";

/**
 * The CLI's only window on the process environment. The whole environment is passed on because
 * `env:` secret references in the destinations file may name any variable.
 */
export function cliEnvironment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}

/** Where the admin API listens when nothing says otherwise: a local run or a `kubectl port-forward`. */
export const DEFAULT_API_URL = "http://127.0.0.1:8080";

// Empty strings count as unset, so `HANDOFF_SYNC_API_KEY=` in a wrapper script does not send "".
const setting = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value === "" ? undefined : value));

const ApiEnvironmentSchema = z.object({
  HANDOFF_SYNC_API_URL: setting,
  HANDOFF_SYNC_API_KEY: setting,
});

export interface ApiEnvironment {
  readonly url: string | undefined;
  readonly key: string | undefined;
}

/**
 * The admin API settings the environment gives. They are checked where they are used, because
 * `--api-url` and `--api-key-file` win over them.
 */
export function apiEnvironment(env: Readonly<Record<string, string | undefined>>): ApiEnvironment {
  const parsed = ApiEnvironmentSchema.parse({
    HANDOFF_SYNC_API_URL: env["HANDOFF_SYNC_API_URL"],
    HANDOFF_SYNC_API_KEY: env["HANDOFF_SYNC_API_KEY"],
  });
  return { url: parsed.HANDOFF_SYNC_API_URL, key: parsed.HANDOFF_SYNC_API_KEY };
}
