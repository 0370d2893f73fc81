import { describe, expect, it } from "vitest";
import { normaliseSipHeaders, type SipHeaderSettings } from "./normalise.js";
import { decodeUserToUser, parseSipMessage, readUuiContent } from "./sip.js";

const crlf = (...lines: string[]): string => `${lines.join("\r\n")}\r\n`;

// RFC 3515 §2.4.5 (message F1, the REFER example; its Refer-To "(whatever URI)" made a URI), with a
// User-to-User header of the ISDN package (RFC 7434: purpose and content isdn-uui) added.
const RFC3515_REFER = crlf(
  "REFER sip:b@atlanta.example.com SIP/2.0",
  "Via: SIP/2.0/UDP agenta.atlanta.example.com;branch=z9hG4bK2293940223",
  "To: <sip:b@atlanta.example.com>",
  "From: <sip:a@atlanta.example.com>;tag=193402342",
  "Call-ID: 898234234@agenta.atlanta.example.com",
  "CSeq: 93809823 REFER",
  "Max-Forwards: 70",
  "Refer-To: <sip:c@atlanta.example.com>",
  "Contact: sip:a@atlanta.example.com",
  "User-to-User: 56a390f3d2b7310023a2;encoding=hex;purpose=isdn-uui;content=isdn-uui",
  "Content-Length: 0",
  "",
);

// RFC 3261 §4 (Alice's INVITE to Bob), with a folded header and compact forms (§7.3.1, §7.3.3).
const RFC3261_INVITE = crlf(
  "INVITE sip:bob@biloxi.com SIP/2.0",
  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
  "Max-Forwards: 70",
  "t: Bob <sip:bob@biloxi.com>",
  "f: Alice <sip:alice@atlanta.com>;tag=1928301774",
  "i: a84b4c76e66710@pc33.atlanta.com",
  "CSeq: 314159 INVITE",
  "Subject: need",
  "  more context",
  "X-Handoff-Reason: billing_question",
  "Content-Type: application/sdp",
  "Content-Length: 142",
  "",
  "v=0",
);

// RFC 3261 §24.2 (Bob's BYE).
const RFC3261_BYE = crlf(
  "BYE sip:alice@pc33.atlanta.com SIP/2.0",
  "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10",
  "Max-Forwards: 70",
  "From: Bob <sip:bob@biloxi.com>;tag=a6c85cf",
  "To: Alice <sip:alice@atlanta.com>;tag=1928301774",
  "Call-ID: a84b4c76e66710",
  "CSeq: 231 BYE",
  "Content-Length: 0",
  "",
);

describe("parseSipMessage", () => {
  it.each([
    ["RFC 3515 REFER", RFC3515_REFER, "REFER", "Call-ID", "898234234@agenta.atlanta.example.com"],
    ["RFC 3261 INVITE (compact i:)", RFC3261_INVITE, "INVITE", "Call-ID", "a84b4c76e66710@pc33.atlanta.com"],
    ["RFC 3261 INVITE (folded)", RFC3261_INVITE, "INVITE", "Subject", "need more context"],
    ["RFC 3261 BYE", RFC3261_BYE, "BYE", "CSeq", "231 BYE"],
  ])("%s", (_name, text, method, header, value) => {
    const parsed = parseSipMessage(text);
    expect(parsed.ok && parsed.request.method).toBe(method);
    expect(parsed.ok && parsed.request.headers[header]).toEqual([value]);
  });

  it("ignores the body and refuses responses and garbage, naming the line", () => {
    const invite = parseSipMessage(RFC3261_INVITE);
    expect(invite.ok && Object.keys(invite.request.headers)).not.toContain("v");
    expect(parseSipMessage("SIP/2.0 200 OK\r\n\r\n")).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^start line/) as unknown,
    });
    expect(parseSipMessage("BYE sip:a@b SIP/2.0\r\nno colon here\r\n")).toEqual({
      ok: false,
      error: 'line 2: expected "Name: value"',
    });
  });
});

describe("decodeUserToUser", () => {
  it.each([
    // RFC 7433 §4.1's example, verbatim: a purpose we do not know leaves every octet as content.
    ["56a390f3d2b7310023a2;encoding=hex;purpose=foo;content=bar", "56a390f3d2b7310023a2"],
    // The same octets under RFC 7434's ISDN package: the first octet (0x56) is the protocol discriminator.
    ["56a390f3d2b7310023a2;encoding=hex;purpose=isdn-uui;content=isdn-uui", "a390f3d2b7310023a2"],
    // Without purpose, every octet is content; hex is the default encoding.
    ["69643d4332", "69643d4332"],
    ["aWQ9QzI=;encoding=base64", "69643d4332"],
    ['"6964";encoding=hex', "6964"],
  ])("%s", (header, hex) => {
    const decoded = decodeUserToUser(header);
    expect(decoded.ok && decoded.bytes.toString("hex")).toBe(hex);
  });

  it.each([
    ["abc;encoding=hex", "User-to-User: encoding=hex needs an even number of hex digits"],
    ["a$b;encoding=base64", "User-to-User: encoding=base64 has characters outside base64"],
    ["abcd;encoding=rot13", "User-to-User: encoding=rot13 is not supported (hex or base64)"],
  ])("refuses %s", (header, error) => {
    expect(decodeUserToUser(header)).toEqual({ ok: false, error });
  });

  it("reads form, json and text content", () => {
    const bytes = (text: string) => Buffer.from(text);
    expect(readUuiContent(bytes("conv=C1&customer_id=42;reason=refund"), "form")).toEqual({
      ok: true,
      values: {
        uui: "conv=C1&customer_id=42;reason=refund",
        "uui.conv": "C1",
        "uui.customer_id": "42",
        "uui.reason": "refund",
      },
    });
    expect(readUuiContent(bytes('{"Conv":"C1","n":3,"deep":{}}'), "json")).toEqual({
      ok: true,
      values: { uui: '{"Conv":"C1","n":3,"deep":{}}', "uui.conv": "C1", "uui.n": "3" },
    });
    expect(readUuiContent(bytes("C1\0\0"), "text")).toEqual({ ok: true, values: { uui: "C1" } });
    expect(readUuiContent(bytes("{"), "json")).toEqual({
      ok: false,
      error: "User-to-User: decoded content is not JSON",
    });
  });
});

describe("SIP requests to handoff events", () => {
  const settings: SipHeaderSettings = {
    id: "Call-ID",
    shared_id: "uui.shared_id",
    reason: "X-Handoff-Reason",
    data: { customer_id: "uui.customer_id", referred_to: "Refer-To" },
    methods: { REFER: "handoff_initiated", INVITE: "handoff_initiated", BYE: "handoff_completed" },
    user_to_user: { header: "User-to-User", format: "form" },
  };
  const uui = (text: string, encoding: "hex" | "base64") =>
    `${Buffer.from(text).toString(encoding)};encoding=${encoding}`;
  const withUui = (text: string, header: string) =>
    text.replace("Content-Length: 0", `User-to-User: ${header}\r\nContent-Length: 0`);
  const T = Date.parse("2026-12-07T10:00:00.000Z");

  it.each([
    [
      "REFER, hex UUI",
      withUui(
        RFC3261_BYE.replace("BYE sip", "REFER sip").replace("231 BYE", "231 REFER"),
        uui("shared_id=S1&customer_id=42", "hex"),
      ),
      "handoff_initiated",
      { shared_id: "S1" },
      { customer_id: "42" },
    ],
    ["INVITE, no UUI, X- header", RFC3261_INVITE, "handoff_initiated", { reason: "billing_question" }, {}],
    [
      "BYE, base64 UUI",
      withUui(RFC3261_BYE, uui("shared_id=S1", "base64")),
      "handoff_completed",
      { shared_id: "S1" },
      {},
    ],
  ])("%s", (_name, text, state, labels, data) => {
    const parsed = parseSipMessage(text);
    if (!parsed.ok) throw new Error(parsed.error);
    const out = normaliseSipHeaders(
      parsed.request.headers,
      { timestamp: T, method: parsed.request.method },
      settings,
    );
    expect(out.kind).toBe("event");
    const event = out.kind === "event" ? (out.event as Record<string, unknown>) : {};
    expect(event).toMatchObject({ state, occurred_at: "2026-12-07T10:00:00.000Z", data, ...labels });
    expect(event["event_id"]).toMatch(/^sha256-[0-9a-f]{64}$/);
  });

  it("the RFC 3515 REFER maps its Refer-To and ISDN UUI; a state header wins over the method", () => {
    const parsed = parseSipMessage(RFC3515_REFER);
    if (!parsed.ok) throw new Error(parsed.error);
    const out = normaliseSipHeaders(
      { ...parsed.request.headers, "X-State": "customer_refund" },
      { timestamp: T, method: "REFER" },
      {
        ...settings,
        state: "X-State",
        user_to_user: { header: "User-to-User", format: "text" },
        data: { uui: "uui", to: "Refer-To" },
      },
    );
    expect(out).toMatchObject({
      kind: "event",
      event: {
        id: "898234234@agenta.atlanta.example.com",
        state: "customer_refund",
        data: { to: "<sip:c@atlanta.example.com>" },
      },
    });
  });

  it("names what is missing: an unmapped method, a bad UUI", () => {
    const parsed = parseSipMessage(RFC3261_BYE.replace("BYE sip", "CANCEL sip"));
    if (!parsed.ok) throw new Error(parsed.error);
    expect(normaliseSipHeaders(parsed.request.headers, { timestamp: T, method: "CANCEL" }, settings)).toEqual(
      {
        kind: "reject",
        error:
          "state: header (none configured) is missing and method CANCEL is not mapped (sip_headers.methods)",
      },
    );
    expect(
      normaliseSipHeaders(
        { "Call-ID": "c", "User-to-User": "zz;encoding=hex" },
        { timestamp: T, method: "BYE" },
        settings,
      ),
    ).toEqual({ kind: "reject", error: "User-to-User: encoding=hex needs an even number of hex digits" });
  });

  it("a REFER and a BYE with the same headers are two events", () => {
    const headers = { "Call-ID": "c1" };
    const refer = normaliseSipHeaders(headers, { timestamp: T, method: "REFER" }, settings);
    const bye = normaliseSipHeaders(headers, { timestamp: T, method: "BYE" }, settings);
    const id = (n: typeof refer) => (n.kind === "event" ? (n.event as { event_id: string }).event_id : "");
    expect(id(refer)).not.toBe(id(bye));
  });
});
