import { verify, type KeyObject } from "node:crypto";

export interface JwtBearerSettings {
  /** PEM (or KeyObject) of the certificate's public key uploaded to the connected app. */
  readonly publicKey: string | KeyObject;
  /** The only pre-authorised user. */
  readonly username: string;
  readonly audience?: string;
}

/** Salesforce's own answers for a bad assertion: `{ error, error_description }` on 400. */
export interface OAuthError {
  readonly error: string;
  readonly error_description: string;
}

/** Longest assertion lifetime accepted, as Salesforce asks for a short `exp` (about three minutes). */
const MAX_LIFETIME_S = 300;

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks an RS256 JWT bearer assertion the way the token endpoint does; undefined when it is good. */
export function checkJwtAssertion(
  assertion: string,
  clientId: string,
  settings: JwtBearerSettings,
  nowMs: number,
): OAuthError | undefined {
  const invalid = { error: "invalid_grant", error_description: "invalid assertion" };
  const [header, payload, signature, ...rest] = assertion.split(".");
  if (header === undefined || payload === undefined || signature === undefined || rest.length > 0)
    return invalid;
  const head = decodeJson(header);
  const claims = decodeJson(payload);
  if (head?.["alg"] !== "RS256" || claims === undefined) return invalid;
  const good = verify(
    "RSA-SHA256",
    Buffer.from(`${header}.${payload}`),
    settings.publicKey,
    Buffer.from(signature, "base64url"),
  );
  if (!good) return invalid;
  if (claims["iss"] !== clientId)
    return { error: "invalid_client_id", error_description: "client identifier invalid" };
  if (claims["aud"] !== (settings.audience ?? "https://login.salesforce.com"))
    return { error: "invalid_grant", error_description: "audience is invalid" };
  const exp = claims["exp"];
  const nowS = Math.floor(nowMs / 1_000);
  if (typeof exp !== "number" || exp <= nowS || exp > nowS + MAX_LIFETIME_S) return invalid;
  if (claims["sub"] !== settings.username)
    return { error: "invalid_grant", error_description: "user hasn't approved this consumer" };
  return undefined;
}
