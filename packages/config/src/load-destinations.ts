import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { isScalar, LineCounter, parseDocument, type Document } from "yaml";
import { ConfigError, type ConfigProblem } from "./config-error.js";
import { DestinationsFileSchema, type DestinationsFile } from "./destinations-schema.js";
import { SecretRef, type Resolved } from "./secret-ref.js";

export type LoadedConfig = Resolved<DestinationsFile>;

type Env = Readonly<Record<string, string | undefined>>;
type Path = readonly (string | number)[];

function lineOf(doc: Document, counter: LineCounter, path: Path): number | undefined {
  // A missing key has no node; point at the nearest parent that exists instead.
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = doc.getIn(path.slice(0, depth), true);
    if (node !== null && typeof node === "object" && "range" in node && Array.isArray(node.range)) {
      const offset: unknown = node.range[0];
      if (typeof offset === "number") return counter.linePos(offset).line;
    }
  }
  return undefined;
}

/** `secret: env:X` is normalised to a list; report it at `secret`, where the user wrote it, not `secret.0`. */
function asWritten(doc: Document, path: Path): Path {
  const last = path.at(-1);
  if (typeof last !== "number" || doc.getIn(path, true) !== undefined) return path;
  const parent = path.slice(0, -1);
  return isScalar(doc.getIn(parent, true)) ? parent : path;
}

async function resolveSecret(
  ref: SecretRef,
  env: Env,
  configDir: string,
): Promise<string | { problem: string }> {
  if (ref.kind === "env") {
    const value = env[ref.target];
    if (value === undefined || value.trim() === "")
      return { problem: `environment variable ${ref.target} is not set` };
    return value;
  }
  const path = resolve(configDir, ref.target);
  try {
    // Secret files from Kubernetes or editors usually end with a newline that is not part of the secret.
    const value = (await readFile(path, "utf8")).replace(/\r?\n$/, "");
    return value === "" ? { problem: `secret file ${path} is empty` } : value;
  } catch (error) {
    const code = error instanceof Error && "code" in error ? String(error.code) : "unknown error";
    return { problem: `cannot read secret file ${path} (${code})` };
  }
}

async function resolveSecrets(
  value: unknown,
  path: Path,
  env: Env,
  configDir: string,
  problems: { path: Path; message: string }[],
): Promise<unknown> {
  if (value instanceof SecretRef) {
    const secret = await resolveSecret(value, env, configDir);
    if (typeof secret === "string") return secret;
    problems.push({ path, message: secret.problem });
    return "";
  }
  if (Array.isArray(value)) {
    return Promise.all(
      value.map((item: unknown, index) => resolveSecrets(item, [...path, index], env, configDir, problems)),
    );
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      out[key] = await resolveSecrets(item, [...path, key], env, configDir, problems);
    return out;
  }
  return value;
}

/**
 * Reads, validates and resolves the destinations file. Every problem (YAML syntax, schema, cross
 * references, missing secrets) is collected before throwing, each with file, dotted path and line.
 */
export async function loadDestinationsFile(file: string, env: Env): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = error instanceof Error && "code" in error ? String(error.code) : "unknown error";
    throw new ConfigError([{ file, path: "", message: `cannot read file (${code})` }], { cause: error });
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => ({
        file,
        path: "",
        message: error.message.split("\n")[0] ?? "invalid YAML",
        line: counter.linePos(error.pos[0]).line,
      })),
    );
  }
  const problem = (rawPath: Path, message: string): ConfigProblem => {
    const path = asWritten(doc, rawPath);
    const line = lineOf(doc, counter, path);
    return { file, path: path.join("."), message, ...(line === undefined ? {} : { line }) };
  };

  const parsed = DestinationsFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) =>
        problem(
          issue.path.filter((part) => typeof part !== "symbol"),
          issue.message,
        ),
      ),
    );
  }
  const secretProblems: { path: Path; message: string }[] = [];
  const loaded = await resolveSecrets(parsed.data, [], env, dirname(file), secretProblems);
  if (secretProblems.length > 0) throw new ConfigError(secretProblems.map((p) => problem(p.path, p.message)));
  // resolveSecrets keeps the shape and swaps each SecretRef for a string, which is what Resolved<T> says.
  return loaded as LoadedConfig;
}
