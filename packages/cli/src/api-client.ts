import { readFile } from "node:fs/promises";
import type { ParseArgsOptionsConfig } from "node:util";
import { z } from "zod";
import { resolvePath } from "./args.js";
import { EXIT, ExitError, UsageError, type CliContext, type ExitCode } from "./command.js";
import { apiEnvironment, DEFAULT_API_URL } from "./config.js";

/** Options of every command that talks to the admin API. */
export const API_OPTIONS = {
  "api-url": { type: "string" },
  "api-key-file": { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

export const API_OPTIONS_HELP = `  --api-url URL        the deployment's API (default: $HANDOFF_SYNC_API_URL, else ${DEFAULT_API_URL})
  --api-key-file FILE  read the API key from FILE (default: $HANDOFF_SYNC_API_KEY)`;

/** Long enough for a replay chunk or an erasure on a busy Redis; a dead API is noticed at connect. */
const REQUEST_TIMEOUT_MS = 60_000;

export interface ApiConnection {
  /** Without a trailing slash. */
  readonly url: string;
  readonly key: string;
}

/** The API's URL and key: the flags, else the environment, else the default URL (a key has no default). */
export async function apiConnection(
  context: CliContext,
  flags: { readonly "api-url"?: string | undefined; readonly "api-key-file"?: string | undefined },
): Promise<ApiConnection> {
  const env = apiEnvironment(context.env);
  const url = flags["api-url"] ?? env.url ?? DEFAULT_API_URL;
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:"))
    throw new UsageError(`the API URL must be an http:// or https:// URL, got "${url}"`);
  let key = env.key;
  const file = flags["api-key-file"];
  if (file !== undefined) {
    try {
      key = (await readFile(resolvePath(context, file), "utf8")).trim();
    } catch (error) {
      const code = error instanceof Error && "code" in error ? String(error.code) : String(error);
      throw new UsageError(`cannot read the API key file ${file}: ${code}`);
    }
    if (key === "") throw new UsageError(`the API key file ${file} is empty`);
  }
  if (key === undefined)
    throw new ExitError(
      "no API key: set HANDOFF_SYNC_API_KEY or give --api-key-file FILE",
      EXIT.unauthorised,
    );
  return { url: url.replace(/\/+$/, ""), key };
}

/** RFC 9457 problem details, as the API answers every error. */
const ProblemSchema = z.object({ title: z.string(), detail: z.string().optional() });

/** What an API status means for the caller, as documented in docs/cli.md. */
export function exitCodeOfStatus(status: number): ExitCode {
  // 429 is the API slowing down a client after repeated invalid keys: a key problem too.
  if (status === 401 || status === 403 || status === 429) return EXIT.unauthorised;
  if (status === 404) return EXIT.notFound;
  // The API refused the request as asked: a bad time range, a value it does not accept.
  if (status === 400) return EXIT.usage;
  if (status === 502 || status === 503 || status === 504) return EXIT.unreachable;
  return EXIT.problems;
}

export interface ApiAnswer<T> {
  readonly data: T;
  /** The body as the API sent it, every field kept, for `--json`. */
  readonly json: unknown;
}

export interface ApiClient {
  readonly url: string;
  get<S extends z.ZodType>(path: string, schema: S): Promise<ApiAnswer<z.infer<S>>>;
  post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<ApiAnswer<z.infer<S>>>;
}

function networkReason(error: unknown): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  // fetch wraps the socket error (ECONNREFUSED, ENOTFOUND, ...) as its cause.
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) return "code" in cause ? String(cause.code) : cause.message;
  return error instanceof Error ? error.message : String(error);
}

async function problemMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    body = undefined;
  }
  const problem = ProblemSchema.safeParse(body);
  if (problem.success)
    return problem.data.detail === undefined
      ? problem.data.title
      : `${problem.data.title}: ${problem.data.detail}`;
  // Not our API's answer (a proxy's error page, say): the status says enough.
  return `HTTP ${response.status} ${response.statusText}`.trimEnd();
}

/**
 * A client of the admin API. Each call parses the answer with the schema of the documented
 * response, so a CLI and a deployment of different versions fail loudly rather than print nonsense.
 * Errors come back as ExitError with the documented exit code and the problem as `title: detail`.
 */
export function createApiClient(connection: ApiConnection): ApiClient {
  const call = async <S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<ApiAnswer<z.infer<S>>> => {
    const headers: Record<string, string> = { "x-api-key": connection.key, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${connection.url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new ExitError(`cannot connect to ${connection.url}: ${networkReason(error)}`, EXIT.unreachable, {
        cause: error,
      });
    }
    if (!response.ok) throw new ExitError(await problemMessage(response), exitCodeOfStatus(response.status));
    let json: unknown;
    try {
      json = await response.json();
    } catch (error) {
      throw new Error(`${method} ${path}: the API's answer is not JSON`, { cause: error });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`)
        .join("; ");
      throw new Error(
        `${method} ${path}: unexpected answer from the API (is the CLI the deployment's version?): ${issues}`,
        { cause: parsed.error },
      );
    }
    return { data: parsed.data, json };
  };
  return {
    url: connection.url,
    get: (path, schema) => call("GET", path, schema),
    post: (path, body, schema) => call("POST", path, schema, body),
  };
}

/** The connection from the flags and environment, then a client for it. */
export async function apiClientFor(
  context: CliContext,
  flags: { readonly "api-url"?: string | undefined; readonly "api-key-file"?: string | undefined },
): Promise<ApiClient> {
  return createApiClient(await apiConnection(context, flags));
}

/** A path segment from user input: destination names and ids are sent as data, never as path syntax. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}
