export const MASK = "****";

const SECRET_HEADERS = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "x-api-key",
  "api-key",
  "x-auth-token",
]);

function maskValue(name: string, value: string): string {
  const lower = name.toLowerCase();
  // Keeping the scheme and the signature versions shows the request is well formed without the secret.
  if (lower === "authorization" || lower === "proxy-authorization") {
    const space = value.indexOf(" ");
    return space === -1 ? MASK : `${value.slice(0, space)} ${MASK}`;
  }
  if (lower === "webhook-signature") {
    return value
      .split(" ")
      .map((entry) => (entry.includes(",") ? `${entry.slice(0, entry.indexOf(","))},${MASK}` : MASK))
      .join(" ");
  }
  return SECRET_HEADERS.has(lower) ? MASK : value;
}

/**
 * Headers with credentials replaced by `****` for previews and logs: `Authorization: Bearer ****`,
 * `webhook-signature: v1,**** v1,****` (one per signing secret), API-key and cookie headers whole.
 */
export function maskHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, maskValue(name, value)]));
}
