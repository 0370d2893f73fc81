import { isUtf8 } from "node:buffer";

/**
 * SIP pieces the HTTP edge and the SIP header format need: a message's start line and headers
 * (RFC 3261 §7), and the User-to-User header's content (RFC 7433). Pure.
 */

/** A SIP request as the edge sees it: its method and its headers, names as sent. */
export interface SipRequest {
  readonly method?: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
}

export type SipParse =
  { readonly ok: true; readonly request: SipRequest } | { readonly ok: false; readonly error: string };

// RFC 3261 §7.3.3 compact forms, so `i:` is found where a mapping names Call-ID.
const COMPACT: Readonly<Record<string, string>> = {
  i: "Call-ID",
  m: "Contact",
  e: "Content-Encoding",
  l: "Content-Length",
  c: "Content-Type",
  f: "From",
  s: "Subject",
  k: "Supported",
  t: "To",
  v: "Via",
  r: "Refer-To",
  b: "Referred-By",
};

const TOKEN = /^[A-Za-z0-9!%*_+`'~.-]+$/;

/**
 * A SIP request message as text (`REFER sip:b@example.com SIP/2.0` then headers). Folded lines are
 * joined, compact header names expanded, and the body after the blank line ignored: only headers
 * carry handoff metadata. A response (`SIP/2.0 200 OK`) has no method and is refused.
 */
export function parseSipMessage(text: string): SipParse {
  const lines = text.split(/\r?\n/);
  const start = lines[0]?.trim() ?? "";
  const match = /^([A-Z]+) (\S+) SIP\/2\.0$/.exec(start);
  if (!match) {
    return {
      ok: false,
      error: `start line: expected a SIP request line such as "REFER sip:agent@example.com SIP/2.0", got "${start.slice(0, 80)}"`,
    };
  }
  const headers: Record<string, string[]> = {};
  let last: string[] | undefined;
  for (let index = 1; index < lines.length; index++) {
    const line = lines[index] ?? "";
    if (line.trim() === "") break;
    if (/^[ \t]/.test(line)) {
      // A folded continuation of the previous header's value (RFC 3261 §7.3.1).
      if (last === undefined || last.length === 0)
        return { ok: false, error: `line ${index + 1}: continuation without a header` };
      last[last.length - 1] = `${last[last.length - 1] ?? ""} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    const rawName = colon < 0 ? "" : line.slice(0, colon).trim();
    if (!TOKEN.test(rawName)) return { ok: false, error: `line ${index + 1}: expected "Name: value"` };
    const name = COMPACT[rawName.toLowerCase()] ?? rawName;
    const value = line.slice(colon + 1).trim();
    last = headers[name] ??= [];
    // Several comma-joined values stay one header value: splitting is the header's own business.
    last.push(value);
  }
  return { ok: true, request: { method: match[1] ?? "", headers } };
}

export type UserToUser =
  | { readonly ok: true; readonly bytes: Buffer; readonly params: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly error: string };

/**
 * The `User-to-User` header: `uui-data;encoding=hex;purpose=isdn-uui;content=isdn-uui`. RFC 7433
 * defines `hex` (the default when `encoding` is absent); `base64` is accepted too, as some session
 * border controllers send it. For `purpose=isdn-uui` the first octet is the ISDN protocol
 * discriminator (RFC 7434, Q.931), not content, and is dropped.
 */
export function decodeUserToUser(header: string): UserToUser {
  const [rawData = "", ...rawParams] = header.split(";");
  const params: Record<string, string> = {};
  for (const param of rawParams) {
    const eq = param.indexOf("=");
    const name = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
    if (name !== "")
      params[name] =
        eq < 0
          ? ""
          : param
              .slice(eq + 1)
              .trim()
              .replace(/^"(.*)"$/, "$1");
  }
  const data = rawData.trim().replace(/^"(.*)"$/, "$1");
  const encoding = (params["encoding"] ?? "hex").toLowerCase();
  let bytes: Buffer;
  if (encoding === "hex") {
    if (!/^([0-9A-Fa-f]{2})*$/.test(data))
      return { ok: false, error: "User-to-User: encoding=hex needs an even number of hex digits" };
    bytes = Buffer.from(data, "hex");
  } else if (encoding === "base64") {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 === 1)
      return { ok: false, error: "User-to-User: encoding=base64 has characters outside base64" };
    bytes = Buffer.from(data, "base64");
  } else {
    return { ok: false, error: `User-to-User: encoding=${encoding} is not supported (hex or base64)` };
  }
  if ((params["purpose"] ?? "").toLowerCase() === "isdn-uui" && bytes.length > 0) bytes = bytes.subarray(1);
  return { ok: true, bytes, params };
}

export type UuiFormat = "text" | "form" | "json";

export type UuiContent =
  | { readonly ok: true; readonly values: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly error: string };

/**
 * What the decoded bytes say, as names a mapping can read: `uui` for the whole text (hex when the
 * bytes are not UTF-8), and `uui.<key>` for each key of a form (`a=1&b=2` or `a=1;b=2`) or of a
 * flat JSON object's scalar fields.
 */
export function readUuiContent(bytes: Buffer, format: UuiFormat): UuiContent {
  if (!isUtf8(bytes)) {
    // Binary UUI (the RFC 7433 example is) reaches the CRM as hex rather than as mangled text.
    if (format === "text") return { ok: true, values: { uui: bytes.toString("hex") } };
    return { ok: false, error: `User-to-User: decoded content is not UTF-8 text, so not ${format}` };
  }
  // Trailing NULs pad fixed-size ISDN UUI fields.
  const text = bytes.toString("utf8").replace(/\0+$/, "");
  const values: Record<string, string> = { uui: text.trim() };
  if (format === "form") {
    for (const pair of text.split(/[&;]/)) {
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const key = pair.slice(0, eq).trim();
      if (key !== "") values[`uui.${key.toLowerCase()}`] = pair.slice(eq + 1).trim();
    }
  } else if (format === "json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, error: "User-to-User: decoded content is not JSON" };
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
      return { ok: false, error: "User-to-User: decoded JSON must be an object" };
    for (const [key, value] of Object.entries(parsed)) {
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
        values[`uui.${key.toLowerCase()}`] = String(value);
    }
  }
  return { ok: true, values };
}
