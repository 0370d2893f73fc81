import { startFakeServer, type FakeServer } from "./fake-server.js";

/** One handoff as the upstream Handoff API returns it. */
export interface UpstreamHandoff {
  readonly id: string;
  readonly shared_id?: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface FakeHandoffApi extends FakeServer {
  /** The base to configure as `source.enrichment.url`: `{url}/v1/{account_id}/{project_id}`. */
  readonly baseUrl: string;
  put(handoff: UpstreamHandoff): void;
  /** Query strings of every `handoff_state` request, in order, with the api key each carried. */
  readonly lookups: { query: string; apiKey: string | undefined }[];
}

/**
 * The platform's Handoff API as the product documentation describes it:
 * `GET /v1/{account_id}/{project_id}/handoff_state?shared_id=...|id=...` with `x-api-key`;
 * `shared_id` wins when both are given and never falls back to `id`.
 */
export async function startFakeHandoffApi(options: {
  apiKey: string;
  accountId?: string;
  projectId?: string;
}): Promise<FakeHandoffApi> {
  const accountId = options.accountId ?? "acme";
  const projectId = options.projectId ?? "support";
  const handoffs: UpstreamHandoff[] = [];
  const lookups: FakeHandoffApi["lookups"] = [];
  const server = await startFakeServer((request) => {
    if (request.method !== "GET" || request.path !== `/v1/${accountId}/${projectId}/handoff_state`) {
      return { status: 404, body: { error: "not found" } };
    }
    const apiKey = request.headers["x-api-key"];
    const key = Array.isArray(apiKey) ? apiKey[0] : apiKey;
    lookups.push({ query: request.query.toString(), apiKey: key });
    if (key !== options.apiKey) return { status: 401, body: { error: "invalid api key" } };
    const sharedId = request.query.get("shared_id");
    const id = request.query.get("id");
    if (sharedId === null && id === null)
      return { status: 400, body: { error: "shared_id or id is required" } };
    const found =
      sharedId !== null ? handoffs.find((h) => h.shared_id === sharedId) : handoffs.find((h) => h.id === id);
    if (found === undefined) return { status: 404, body: { error: "handoff not found" } };
    return { status: 200, body: found };
  });
  return {
    ...server,
    baseUrl: `${server.url}/v1/${accountId}/${projectId}`,
    lookups,
    put(handoff) {
      const at = handoffs.findIndex((h) => h.id === handoff.id);
      if (at >= 0) handoffs.splice(at, 1, handoff);
      else handoffs.push(handoff);
    },
  };
}
