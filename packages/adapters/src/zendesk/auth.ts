import type { Resolved, ZendeskAuth } from "@handoff-sync/config";
import { DestinationError } from "@handoff-sync/schema";
import { z } from "zod";
import type { DestinationHttp } from "../http/destination-http.js";
import { classifyZendeskResponse } from "./classify.js";

export type ZendeskAuthConfig = Resolved<ZendeskAuth>;

export interface ZendeskAuthorizer {
  /** The `Authorization` header for the next request. */
  authorization(): Promise<string>;
  /**
   * After a 401: forgets `used` if it is still the cached token and says whether a new one can be
   * fetched. Only client-credentials tokens can; API tokens and given OAuth tokens cannot.
   */
  invalidate(used: string): boolean;
}

const TokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.number().positive().optional(),
});

// Renew a little before Zendesk's expiry so a token never lapses in flight.
const EXPIRY_MARGIN_MS = 60_000;

export function createZendeskAuthorizer(
  auth: ZendeskAuthConfig,
  baseUrl: URL,
  http: DestinationHttp,
  nowMs: () => number = Date.now,
): ZendeskAuthorizer {
  if (auth.method === "api_token") {
    const header = `Basic ${Buffer.from(`${auth.email}/token:${auth.api_token}`).toString("base64")}`;
    return { authorization: () => Promise.resolve(header), invalidate: () => false };
  }
  if (auth.method === "oauth_token") {
    const header = `Bearer ${auth.access_token}`;
    return { authorization: () => Promise.resolve(header), invalidate: () => false };
  }

  const client = auth;
  let cached: { header: string; expiresAtMs: number } | undefined;
  let pending: Promise<string> | undefined;

  // Shared by concurrent deliveries, so it takes no caller's abort signal; the pool's timeout bounds it.
  async function fetchToken(): Promise<string> {
    const response = await http.send({
      method: "POST",
      url: new URL("oauth/tokens", baseUrl),
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        client_id: client.client_id,
        client_secret: client.client_secret,
        scope: client.scope,
        ...(client.token_lifetime_s === undefined ? {} : { expires_in: client.token_lifetime_s }),
      }),
    });
    const outcome = classifyZendeskResponse({
      operation: "token",
      status: response.status,
      headers: response.headers,
      body: response.text,
      responseExcerpt: response.excerpt(),
      nowMs: nowMs(),
    });
    if (outcome instanceof Error) throw outcome;
    const token = TokenResponseSchema.safeParse(response.json());
    if (!token.success) {
      throw new DestinationError("Zendesk answered the token request without an access_token", {
        status: response.status,
        responseExcerpt: response.excerpt(),
        adminHint:
          "Check that the destination's url points at the Zendesk account itself, not a proxy or login page.",
      });
    }
    const header = `Bearer ${token.data.access_token}`;
    const lifetimeMs =
      token.data.expires_in === undefined ? Number.POSITIVE_INFINITY : token.data.expires_in * 1_000;
    cached = { header, expiresAtMs: nowMs() + Math.max(lifetimeMs - EXPIRY_MARGIN_MS, lifetimeMs / 2) };
    return header;
  }

  return {
    async authorization() {
      if (cached !== undefined && nowMs() < cached.expiresAtMs) return cached.header;
      // One token request at a time: concurrent deliveries share it.
      pending ??= fetchToken().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    invalidate(used) {
      if (cached?.header === used) cached = undefined;
      return true;
    },
  };
}
