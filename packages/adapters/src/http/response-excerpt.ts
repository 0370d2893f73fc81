export const EXCERPT_BYTES = 512;

const SENSITIVE_KEY = String.raw`[\w.-]*(?:secret|token|password|passwd|authorization|api[-_]?key|cookie)[\w.-]*`;

const RULES: readonly [RegExp, string][] = [
  // JSON: "access_token": "abc" (also when the excerpt cut the value off).
  [
    new RegExp(String.raw`("${SENSITIVE_KEY}"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^\s,}\]]+)`, "gi"),
    `$1"[REDACTED]"`,
  ],
  // Form bodies, query strings, YAML-ish: api_key=abc, token: abc
  [new RegExp(String.raw`(\b${SENSITIVE_KEY}\s*[=:]\s*)(?!\s*")([^\s&,;"}]+)`, "gi"), "$1[REDACTED]"],
  [/\b(Bearer|Basic|Token)\s+[\w.~+/=-]+/gi, "$1 [REDACTED]"],
  [/\bwhsec_[A-Za-z0-9+/=]+/g, "[REDACTED]"],
  // JWTs echoed back without a telling key.
  [/\beyJ[\w-]+\.[\w-]+\.[\w-]*/g, "[REDACTED]"],
];

/** Removes what looks like credentials; the rules are deliberately greedy, an excerpt is only a hint. */
export function redactSecrets(text: string): string {
  return RULES.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
}

/**
 * The first EXCERPT_BYTES of a response body with secrets removed. Redaction runs before the cut so
 * a token straddling the boundary cannot leak its first half.
 */
export function responseExcerpt(body: Uint8Array): string {
  const text = Buffer.from(body).toString("utf8");
  const redacted = Buffer.from(redactSecrets(text), "utf8");
  return redacted
    .subarray(0, EXCERPT_BYTES)
    .toString("utf8")
    .replace(/\uFFFD$/, "");
}
