import type { HubSpotDestination, Resolved } from "@handoff-sync/config";
import { RetryableDeliveryError } from "@handoff-sync/schema";
import type { DestinationHttp } from "../http/destination-http.js";
import { classifyHubSpotResponse } from "./classify.js";
import { HubSpotTokenResponseSchema } from "./response.js";

/** Renew this long before `expires_in` runs out, so a request never leaves with a token about to die. */
export const TOKEN_EXPIRY_MARGIN_MS = 60_000;

export interface HubSpotAuth {
  /** Whether a 401 may be answered by minting a new token (OAuth) or not (a static private app token). */
  readonly renewable: boolean;
  authorization(signal?: AbortSignal): Promise<string>;
  /**
   * Replaces the token that was refused (the `authorization` value sent). Concurrent callers share one
   * refresh, and a caller whose token was already replaced mints nothing.
   */
  renew(refused: string, signal?: AbortSignal): Promise<void>;
}

/**
 * Private app tokens are static. OAuth access tokens are minted from the refresh token and renewed by
 * `expires_in` (HubSpot: a 401 is not a reliable sign a new token is needed); the adapter still renews
 * once on a 401 in case the token was revoked early.
 */
export function createHubSpotAuth(
  auth: Resolved<HubSpotDestination>["auth"],
  http: DestinationHttp,
  baseUrl: string,
  nowMs: () => number,
): HubSpotAuth {
  if (auth.method === "private_app") {
    const header = `Bearer ${auth.token}`;
    return { renewable: false, authorization: () => Promise.resolve(header), renew: () => Promise.resolve() };
  }

  // Narrowed once here: closures below do not keep the narrowing of `auth`.
  const app = auth;
  let cached: { token: string; expiresAt: number } | undefined;
  let refreshToken = app.refresh_token;
  let inflight: Promise<string> | undefined;

  async function mint(signal?: AbortSignal): Promise<string> {
    const response = await http.send({
      method: "POST",
      url: new URL("/oauth/v1/token", baseUrl),
      headers: {
        "content-type": "application/x-www-form-urlencoded;charset=utf-8",
        accept: "application/json",
      },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        client_id: app.client_id,
        client_secret: app.client_secret,
        refresh_token: refreshToken,
      }).toString(),
      signal,
    });
    const outcome = classifyHubSpotResponse(
      {
        status: response.status,
        headers: response.headers,
        body: response.json(),
        responseExcerpt: response.excerpt(),
      },
      { operation: "token", nowMs: nowMs(), canRenewToken: false },
    );
    if (outcome !== "ok") {
      throw typeof outcome === "string"
        ? new RetryableDeliveryError(`HubSpot token endpoint answered ${response.status}`)
        : outcome;
    }
    const parsed = HubSpotTokenResponseSchema.safeParse(response.json());
    if (!parsed.success) {
      throw new RetryableDeliveryError("HubSpot token endpoint answered without an access token", {
        status: response.status,
        responseExcerpt: response.excerpt(),
      });
    }
    if (parsed.data.refresh_token !== undefined) refreshToken = parsed.data.refresh_token;
    cached = { token: parsed.data.access_token, expiresAt: nowMs() + parsed.data.expires_in * 1_000 };
    return cached.token;
  }

  function shared(signal?: AbortSignal): Promise<string> {
    inflight ??= mint(signal).finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  return {
    renewable: true,
    async authorization(signal) {
      const current = cached;
      if (current !== undefined && nowMs() < current.expiresAt - TOKEN_EXPIRY_MARGIN_MS)
        return `Bearer ${current.token}`;
      return `Bearer ${await shared(signal)}`;
    },
    async renew(refused, signal) {
      if (cached !== undefined && `Bearer ${cached.token}` !== refused) return;
      cached = undefined;
      await shared(signal);
    },
  };
}
