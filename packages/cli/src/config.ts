/**
 * The CLI's only window on the process environment. The whole environment is passed on because
 * `env:` secret references in the destinations file may name any variable.
 */
export function cliEnvironment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
