import { readFile, realpath } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import { ConfigError, type ConfigProblem } from "./config-error.js";
import { describeIssues } from "./describe-issues.js";
import { DestinationsFileSchema, type DestinationsFile } from "./destinations-schema.js";
import { SecretRef, type Resolved } from "./secret-ref.js";

export type LoadedConfig = Resolved<DestinationsFile>;

type Env = Readonly<Record<string, string | undefined>>;
type Path = readonly (string | number)[];

function lineOfNode(node: unknown, counter: LineCounter): number | undefined {
  if (node !== null && typeof node === "object" && "range" in node && Array.isArray(node.range)) {
    const offset: unknown = node.range[0];
    if (typeof offset === "number") return counter.linePos(offset).line;
  }
  return undefined;
}

function lineOf(doc: Document, counter: LineCounter, path: Path): number | undefined {
  // A missing key has no node; point at the nearest parent that exists instead.
  for (let depth = path.length; depth >= 0; depth--) {
    const at = path.slice(0, depth);
    // Point at the key rather than its value: a block value starts on the line after its key.
    const last = at.at(-1);
    const parent: unknown = typeof last === "string" ? doc.getIn(at.slice(0, -1), true) : undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === last);
      const line = lineOfNode(pair?.key, counter);
      if (line !== undefined) return line;
    }
    const line = lineOfNode(doc.getIn(at, true), counter);
    if (line !== undefined) return line;
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

/**
 * The services' own credentials. A destinations file (hot-reloaded, edited by more people than
 * the pod spec) must not be able to send them to a URL of its choosing.
 */
const OWN_CREDENTIALS = new Set([
  "REDIS_URL",
  "REDIS_PASSWORD",
  "REDIS_PASSWORD_FILE",
  "KAFKA_SASL_PASSWORD",
  "KAFKA_SASL_PASSWORD_FILE",
  "HANDOFF_API_KEYS",
  "HANDOFF_API_KEYS_FILE",
]);

export const SECRETS_DIRS_VARIABLE = "HANDOFF_SECRETS_DIRS";

/**
 * Where `file:` references may point: `HANDOFF_SECRETS_DIRS` (comma-separated absolute
 * directories), or, when it is unset, the destinations file's own directory. Otherwise a changed
 * destinations file could send any file the service can read (a service-account token, a key)
 * to any host.
 */
export function secretDirectories(
  env: Env,
  configDir: string,
): { dirs: readonly string[] } | { problem: string } {
  const raw = env[SECRETS_DIRS_VARIABLE];
  if (raw === undefined || raw.trim() === "") return { dirs: [configDir] };
  const dirs = raw
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const relativeDirs = dirs.filter((dir) => !isAbsolute(dir));
  if (relativeDirs.length > 0)
    return { problem: `must list absolute directories; not absolute: ${relativeDirs.join(", ")}` };
  return { dirs: dirs.map((dir) => resolve(dir)) };
}

const inside = (dir: string, path: string): boolean => {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
};

/** Symlinks are followed, so a link inside an allowed directory cannot lead out of it. */
async function allowedSecretPath(path: string, dirs: readonly string[]): Promise<boolean> {
  const real = await realpath(path).catch(() => path);
  const realDirs = await Promise.all(dirs.map((dir) => realpath(dir).catch(() => dir)));
  return realDirs.some((dir) => inside(dir, real));
}

async function resolveSecret(
  ref: SecretRef,
  env: Env,
  configDir: string,
  secretDirs: readonly string[],
): Promise<string | { problem: string }> {
  if (ref.kind === "env") {
    if (OWN_CREDENTIALS.has(ref.target))
      return {
        problem: `env:${ref.target} is one of the service's own credentials; a destination cannot use it`,
      };
    const value = env[ref.target];
    if (value === undefined || value.trim() === "")
      return { problem: `environment variable ${ref.target} is not set` };
    return value;
  }
  const path = resolve(configDir, ref.target);
  if (!(await allowedSecretPath(path, secretDirs))) {
    return {
      problem: `secret file ${path} is outside the secret directories (${secretDirs.join(", ")}); list its directory in ${SECRETS_DIRS_VARIABLE}`,
    };
  }
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
  secretDirs: readonly string[],
  problems: { path: Path; message: string }[],
): Promise<unknown> {
  if (value instanceof SecretRef) {
    const secret = await resolveSecret(value, env, configDir, secretDirs);
    if (typeof secret === "string") return secret;
    problems.push({ path, message: secret.problem });
    return "";
  }
  if (Array.isArray(value)) {
    // One after another, so problems are listed in the order they are written.
    const out: unknown[] = [];
    for (const [index, item] of (value as unknown[]).entries())
      out.push(await resolveSecrets(item, [...path, index], env, configDir, secretDirs, problems));
    return out;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      out[key] = await resolveSecrets(item, [...path, key], env, configDir, secretDirs, problems);
    return out;
  }
  return value;
}

interface ParsedFile {
  readonly config: DestinationsFile;
  /** A problem at a path of this file, with its line. */
  readonly problem: (path: Path, message: string) => ConfigProblem;
}

async function parseDestinationsFile(file: string): Promise<ParsedFile> {
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

  const input: unknown = doc.toJS();
  const parsed = DestinationsFileSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      describeIssues(DestinationsFileSchema, parsed.error.issues, input).map((p) =>
        problem(p.path, p.message),
      ),
    );
  }
  return { config: parsed.data, problem };
}

/**
 * Reads and validates the destinations file without resolving secrets: secret references stay
 * `SecretRef`s, checked for form only. For `config validate`, which must not need the secrets.
 */
export async function readDestinationsFile(file: string): Promise<DestinationsFile> {
  return (await parseDestinationsFile(file)).config;
}

/**
 * Reads, validates and resolves the destinations file. Every problem (YAML syntax, schema, cross
 * references, missing secrets) is collected before throwing, each with file, dotted path and line.
 */
export async function loadDestinationsFile(file: string, env: Env): Promise<LoadedConfig> {
  const { config, problem } = await parseDestinationsFile(file);
  const configDir = dirname(resolve(file));
  const allowed = secretDirectories(env, configDir);
  if ("problem" in allowed)
    throw new ConfigError([{ path: SECRETS_DIRS_VARIABLE, message: allowed.problem }]);
  const secretProblems: { path: Path; message: string }[] = [];
  const loaded = await resolveSecrets(config, [], env, configDir, allowed.dirs, secretProblems);
  if (secretProblems.length > 0) throw new ConfigError(secretProblems.map((p) => problem(p.path, p.message)));
  // resolveSecrets keeps the shape and swaps each SecretRef for a string, which is what Resolved<T> says.
  return loaded as LoadedConfig;
}

function replaceSecrets(value: unknown, placeholder: string): unknown {
  if (value instanceof SecretRef) return placeholder;
  if (Array.isArray(value)) return value.map((item: unknown) => replaceSecrets(item, placeholder));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, replaceSecrets(item, placeholder)]),
    );
  }
  return value;
}

/**
 * The config with every secret reference replaced by `placeholder`: for showing what would be sent
 * (`handoff-sync preview`) on a machine that does not hold the secrets.
 */
export function withPlaceholderSecrets(config: DestinationsFile, placeholder = "****"): LoadedConfig {
  // Same shape, every SecretRef swapped for a string: what Resolved<T> says.
  return replaceSecrets(config, placeholder) as LoadedConfig;
}
