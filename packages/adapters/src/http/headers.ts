export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>> | Headers;

/** Case-insensitive read of one header from node/undici header records or a fetch `Headers`. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return typeof value === "string" ? value : value.join(", ");
  }
  return undefined;
}
