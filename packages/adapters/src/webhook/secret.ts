const PREFIX = "whsec_";

/**
 * HMAC key bytes of a signing secret. `whsec_<base64>` is the Standard Webhooks format and decodes to
 * its bytes; anything else is taken as UTF-8 text, so a receiver must be configured with the very same
 * string. (The reference libraries base64-decode unprefixed secrets instead: prefer `whsec_` secrets
 * when receivers use them.)
 */
export function webhookSecretKey(secret: string): Buffer {
  if (!secret.startsWith(PREFIX)) {
    if (secret === "") throw new TypeError("webhook secret is empty");
    return Buffer.from(secret, "utf8");
  }
  const encoded = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded))
    throw new TypeError("webhook secret after whsec_ must be base64");
  return Buffer.from(encoded, "base64");
}
