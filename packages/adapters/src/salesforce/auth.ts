import { createPrivateKey, type KeyObject } from "node:crypto";
import type { Resolved, SalesforceAuth } from "@handoff-sync/config";
import { DestinationError, RetryableDeliveryError } from "@handoff-sync/schema";
import { z } from "zod";
import type { DestinationHttp } from "../http/destination-http.js";
import { classifySalesforceResponse } from "./classify.js";
import { signJwtAssertion } from "./jwt-assertion.js";

const JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

const TokenResponseSchema = z.looseObject({ access_token: z.string().min(1) });

export interface SalesforceTokenCache {
  /** The cached access token, or a new one; concurrent callers share one token request. */
  token(): Promise<string>;
  /** Drops `token` if it is still the cached one, so the next `token()` mints a new session. */
  invalidate(token: string): void;
}

export interface SalesforceTokenCacheSettings {
  readonly http: DestinationHttp;
  readonly tokenUrl: string;
  readonly auth: Resolved<SalesforceAuth>;
  readonly nowMs: () => number;
}

/**
 * Salesforce tokens carry no expiry (no `expires_in`, no refresh token with these grants), so the
 * token is kept until the API says INVALID_SESSION_ID, as jsforce does.
 */
export function createSalesforceTokenCache(settings: SalesforceTokenCacheSettings): SalesforceTokenCache {
  const { auth, http } = settings;
  let privateKey: KeyObject | Error | undefined;
  if (auth.method === "jwt_bearer") {
    try {
      privateKey = createPrivateKey(auth.private_key);
    } catch (error) {
      privateKey = error instanceof Error ? error : new Error(String(error));
    }
  }
  let cached: string | undefined;
  let pending: Promise<string> | undefined;

  function form(): URLSearchParams {
    if (auth.method === "client_credentials")
      return new URLSearchParams({
        grant_type: "client_credentials",
        client_id: auth.client_id,
        client_secret: auth.client_secret,
      });
    if (privateKey === undefined || privateKey instanceof Error)
      throw new DestinationError("Salesforce JWT bearer private key cannot be read", {
        ...(privateKey instanceof Error ? { cause: privateKey } : {}),
        adminHint:
          "auth.private_key must point to the PEM private key (PKCS#1 or PKCS#8) of the certificate uploaded to the connected app; fix it, then resume the queue.",
      });
    const assertion = signJwtAssertion({
      clientId: auth.client_id,
      username: auth.username,
      audience: auth.audience,
      privateKey,
      nowMs: settings.nowMs(),
    });
    return new URLSearchParams({ grant_type: JWT_GRANT, assertion });
  }

  async function mint(): Promise<string> {
    const response = await http.send({
      method: "POST",
      url: settings.tokenUrl,
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: form().toString(),
    });
    const outcome = classifySalesforceResponse(response.status, response.json(), response.headers, {
      operation: "token",
      responseExcerpt: response.excerpt(),
      nowMs: settings.nowMs(),
    });
    if (outcome !== "ok")
      throw typeof outcome === "string"
        ? new RetryableDeliveryError(`unexpected token outcome ${outcome}`)
        : outcome;
    const parsed = TokenResponseSchema.safeParse(response.json());
    if (!parsed.success)
      throw new RetryableDeliveryError("Salesforce token response has no access_token", {
        status: response.status,
      });
    return parsed.data.access_token;
  }

  return {
    token() {
      if (cached !== undefined) return Promise.resolve(cached);
      pending ??= mint()
        .then((token) => {
          cached = token;
          return token;
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
    invalidate(token) {
      if (cached === token) cached = undefined;
    },
  };
}
