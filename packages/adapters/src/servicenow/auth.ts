import type { ServiceNowAuth } from "@handoff-sync/config";
import type { Resolved } from "@handoff-sync/config";
import { DestinationError } from "@handoff-sync/schema";
import { z } from "zod";
import type { DestinationHttp } from "../http/destination-http.js";
import { classifyServiceNowResponse } from "./classify.js";

export type ResolvedServiceNowAuth = Resolved<ServiceNowAuth>;

export interface ServiceNowAuthorizer {
  readonly method: "basic" | "oauth";
  /** The `Authorization` header for the next request. */
  authorization(signal?: AbortSignal): Promise<string>;
  /** Forgets a token the instance refused, unless a newer one already replaced it. */
  invalidate(authorization: string): void;
}

export interface ServiceNowAuthOptions {
  readonly http: DestinationHttp;
  readonly instanceUrl: string;
  readonly table: string;
  readonly nowMs?: () => number;
}

const TokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  // ServiceNow sends seconds as a number; tolerate a string, and assume its 30-minute default when absent.
  expires_in: z.coerce.number().positive().optional(),
});

const DEFAULT_LIFETIME_MS = 1_800_000;
const MAX_SKEW_MS = 60_000;

function tokenForm(auth: Extract<ResolvedServiceNowAuth, { method: "oauth" }>): URLSearchParams {
  const form = new URLSearchParams({
    grant_type: auth.grant_type,
    client_id: auth.client_id,
    client_secret: auth.client_secret,
  });
  if (auth.grant_type === "password") {
    form.set("username", auth.username);
    form.set("password", auth.password);
  } else if (auth.grant_type === "refresh_token") {
    form.set("refresh_token", auth.refresh_token);
  }
  return form;
}

/**
 * Basic sends the integration user's credentials every time. OAuth mints a token at
 * `/oauth_token.do`, caches it until shortly before `expires_in`, shares one in-flight request
 * between concurrent deliveries, and mints anew after `invalidate` (the adapter's one renewal on 401).
 */
export function createServiceNowAuthorizer(
  auth: ResolvedServiceNowAuth,
  options: ServiceNowAuthOptions,
): ServiceNowAuthorizer {
  if (auth.method === "basic") {
    const header = `Basic ${Buffer.from(`${auth.username}:${auth.password}`, "utf8").toString("base64")}`;
    return { method: "basic", authorization: () => Promise.resolve(header), invalidate: () => undefined };
  }

  // A const keeps the narrowed type inside the closures below.
  const oauth = auth;
  const now = options.nowMs ?? Date.now;
  const tokenUrl = new URL("/oauth_token.do", options.instanceUrl);
  let cached: { header: string; refreshAtMs: number } | undefined;
  let pending: Promise<string> | undefined;

  async function mint(signal?: AbortSignal): Promise<string> {
    const response = await options.http.send({
      method: "POST",
      url: tokenUrl,
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: tokenForm(oauth).toString(),
      signal,
    });
    const outcome = classifyServiceNowResponse(
      {
        status: response.status,
        headers: response.headers,
        body: response.json(),
        excerpt: response.excerpt(),
      },
      { target: "token", table: options.table, auth: "oauth", renewed: false, nowMs: now() },
    );
    if (outcome.kind === "failed") throw outcome.error;
    const parsed = TokenResponseSchema.safeParse(response.json());
    if (!parsed.success) {
      throw new DestinationError(
        `ServiceNow token endpoint answered ${response.status} without an access_token`,
        {
          status: response.status,
          responseExcerpt: response.excerpt(),
          adminHint:
            "Check that instance_url is the instance itself and OAuth is active on it, then resume the destination's queue.",
        },
      );
    }
    const lifetimeMs =
      parsed.data.expires_in === undefined ? DEFAULT_LIFETIME_MS : parsed.data.expires_in * 1_000;
    const header = `Bearer ${parsed.data.access_token}`;
    // Renew a little early so a token never expires between our check and the instance's.
    cached = { header, refreshAtMs: now() + lifetimeMs - Math.min(MAX_SKEW_MS, lifetimeMs / 10) };
    return header;
  }

  return {
    method: "oauth",
    authorization(signal) {
      if (cached !== undefined && now() < cached.refreshAtMs) return Promise.resolve(cached.header);
      pending ??= mint(signal).finally(() => {
        pending = undefined;
      });
      return pending;
    },
    invalidate(header) {
      if (cached?.header === header) cached = undefined;
    },
  };
}
