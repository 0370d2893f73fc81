import type { z } from "zod";
import { ConfigError, type ConfigProblem } from "./config-error.js";

type Env = Readonly<Record<string, string | undefined>>;

/** Shells and Kubernetes manifests often leave `FOO=` behind; treating it as unset lets defaults apply. */
function withoutEmpty(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== "") out[name] = value;
  }
  return out;
}

/** Parses the environment once; throws a ConfigError listing every bad or missing variable. */
export function parseEnv<T extends z.ZodType>(schema: T, env: Env): z.infer<T> {
  const cleaned = withoutEmpty(env);
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems: ConfigProblem[] = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    const name = issue.path[0];
    const missing = typeof name === "string" && cleaned[name] === undefined && issue.code === "invalid_type";
    return {
      path: path === "" ? "(environment)" : path,
      message: missing ? "is required but not set" : issue.message,
    };
  });
  throw new ConfigError(problems);
}
