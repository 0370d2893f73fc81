import { sign, type KeyObject } from "node:crypto";

/** Salesforce wants a short-lived assertion; three minutes leaves room for clock skew. */
const LIFETIME_S = 180;

export interface JwtAssertionInput {
  readonly clientId: string;
  readonly username: string;
  readonly audience: string;
  readonly privateKey: KeyObject;
  readonly nowMs: number;
}

const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** The RS256 assertion of the OAuth 2.0 JWT bearer flow: iss = client id, sub = username, aud = login host. */
export function signJwtAssertion(input: JwtAssertionInput): string {
  const header = encode({ alg: "RS256", typ: "JWT" });
  const claims = encode({
    iss: input.clientId,
    sub: input.username,
    aud: input.audience,
    exp: Math.floor(input.nowMs / 1_000) + LIFETIME_S,
  });
  const signature = sign("RSA-SHA256", Buffer.from(`${header}.${claims}`), input.privateKey).toString(
    "base64url",
  );
  return `${header}.${claims}.${signature}`;
}
