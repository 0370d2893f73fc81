import { describe, expect, it } from "vitest";
import { webhookMessageId } from "./message-id.js";
import { createWebhookSigner, signWebhook, verifyWebhook, WebhookVerificationError } from "./sign.js";

const SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

describe("signWebhook", () => {
  it("reproduces the Standard Webhooks specification example", () => {
    expect(
      signWebhook({
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestampSec: 1614265330,
        body: '{"test": 2432232314}',
        secrets: [SPEC_SECRET],
      }),
    ).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("signs once per secret, space-separated, for rotation", () => {
    const header = signWebhook({
      id: "msg_1",
      timestampSec: 1,
      body: "{}",
      secrets: [SPEC_SECRET, "raw secret"],
    });
    expect(header.split(" ")).toHaveLength(2);
    expect(header.split(" ").every((part) => part.startsWith("v1,"))).toBe(true);
  });

  it("signs bytes and strings alike", () => {
    const input = { id: "msg_1", timestampSec: 1, secrets: [SPEC_SECRET] };
    expect(signWebhook({ ...input, body: Buffer.from('{"a":"é"}') })).toBe(
      signWebhook({ ...input, body: '{"a":"é"}' }),
    );
  });

  it("refuses no secrets and malformed whsec_ secrets", () => {
    expect(() => signWebhook({ id: "m", timestampSec: 1, body: "", secrets: [] })).toThrow(TypeError);
    expect(() => signWebhook({ id: "m", timestampSec: 1, body: "", secrets: ["whsec_!!"] })).toThrow(
      /base64/,
    );
  });
});

describe("createWebhookSigner", () => {
  it("signs exactly as signWebhook does, with keys imported once, and fails each signing on a malformed secret", () => {
    const message = {
      id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
      timestampSec: 1614265330,
      body: '{"test": 2432232314}',
    };
    const sign = createWebhookSigner([SPEC_SECRET, "raw secret"]);
    expect(sign(message)).toBe(signWebhook({ ...message, secrets: [SPEC_SECRET, "raw secret"] }));
    expect(sign({ ...message, id: "msg_2" })).toBe(
      signWebhook({ ...message, id: "msg_2", secrets: [SPEC_SECRET, "raw secret"] }),
    );
    const broken = createWebhookSigner(["whsec_!!"]);
    expect(() => broken(message)).toThrow(/base64/);
    expect(() => broken(message)).toThrow(/base64/);
  });
});

describe("verifyWebhook", () => {
  const nowSec = 1_700_000_000;
  const body = '{"type":"handoff.updated"}';
  const signed = (secrets: string[], timestampSec = nowSec, id = "msg_abc") => ({
    "webhook-id": id,
    "webhook-timestamp": String(timestampSec),
    "webhook-signature": signWebhook({ id, timestampSec, body, secrets }),
  });

  function failure(run: () => unknown): string | undefined {
    try {
      run();
    } catch (error) {
      if (error instanceof WebhookVerificationError) return error.reason;
      throw error;
    }
    return undefined;
  }

  it("accepts a round trip", () => {
    expect(verifyWebhook({ headers: signed([SPEC_SECRET]), body, secrets: [SPEC_SECRET], nowSec })).toBe(
      true,
    );
  });

  it("accepts during rotation on either side", () => {
    const headers = signed(["whsec_b2xkLXNlY3JldA==", SPEC_SECRET]);
    expect(verifyWebhook({ headers, body, secrets: [SPEC_SECRET], nowSec })).toBe(true);
    expect(
      verifyWebhook({
        headers: signed([SPEC_SECRET]),
        body,
        secrets: ["whsec_bmV3LXNlY3JldA==", SPEC_SECRET],
        nowSec,
      }),
    ).toBe(true);
  });

  it("accepts a fetch Headers object and mixed-case keys", () => {
    expect(
      verifyWebhook({ headers: new Headers(signed([SPEC_SECRET])), body, secrets: [SPEC_SECRET], nowSec }),
    ).toBe(true);
    const upper = Object.fromEntries(
      Object.entries(signed([SPEC_SECRET])).map(([k, v]) => [k.toUpperCase(), v]),
    );
    expect(verifyWebhook({ headers: upper, body, secrets: [SPEC_SECRET], nowSec })).toBe(true);
  });

  it("rejects a tampered body", () => {
    expect(
      failure(() =>
        verifyWebhook({
          headers: signed([SPEC_SECRET]),
          body: body.replace("updated", "deleted"),
          secrets: [SPEC_SECRET],
          nowSec,
        }),
      ),
    ).toBe("no_matching_signature");
  });

  it("rejects a tampered id, which would defeat idempotency", () => {
    const headers = { ...signed([SPEC_SECRET]), "webhook-id": "msg_other" };
    expect(failure(() => verifyWebhook({ headers, body, secrets: [SPEC_SECRET], nowSec }))).toBe(
      "no_matching_signature",
    );
  });

  it("rejects the wrong secret", () => {
    expect(
      failure(() =>
        verifyWebhook({ headers: signed(["whsec_b2xkLXNlY3JldA=="]), body, secrets: [SPEC_SECRET], nowSec }),
      ),
    ).toBe("no_matching_signature");
  });

  it("rejects timestamps outside the tolerance", () => {
    expect(
      failure(() =>
        verifyWebhook({ headers: signed([SPEC_SECRET], nowSec - 301), body, secrets: [SPEC_SECRET], nowSec }),
      ),
    ).toBe("timestamp_too_old");
    expect(
      failure(() =>
        verifyWebhook({ headers: signed([SPEC_SECRET], nowSec + 301), body, secrets: [SPEC_SECRET], nowSec }),
      ),
    ).toBe("timestamp_too_new");
    expect(
      verifyWebhook({ headers: signed([SPEC_SECRET], nowSec - 300), body, secrets: [SPEC_SECRET], nowSec }),
    ).toBe(true);
  });

  it("rejects missing or malformed headers", () => {
    expect(failure(() => verifyWebhook({ headers: {}, body, secrets: [SPEC_SECRET], nowSec }))).toBe(
      "missing_headers",
    );
    const headers = { ...signed([SPEC_SECRET]), "webhook-timestamp": "yesterday" };
    expect(failure(() => verifyWebhook({ headers, body, secrets: [SPEC_SECRET], nowSec }))).toBe(
      "invalid_timestamp",
    );
    const garbled = { ...signed([SPEC_SECRET]), "webhook-signature": "v2,abc v1" };
    expect(failure(() => verifyWebhook({ headers: garbled, body, secrets: [SPEC_SECRET], nowSec }))).toBe(
      "no_matching_signature",
    );
  });
});

describe("webhookMessageId", () => {
  it("is stable for one version and changes with the version, key or destination", () => {
    const id = webhookMessageId("crm", "conv-1", 3);
    expect(id).toMatch(/^msg_[A-Za-z0-9_-]{32}$/);
    expect(webhookMessageId("crm", "conv-1", 3)).toBe(id);
    expect(webhookMessageId("crm", "conv-1", 4)).not.toBe(id);
    expect(webhookMessageId("crm", "conv-2", 3)).not.toBe(id);
    expect(webhookMessageId("other", "conv-1", 3)).not.toBe(id);
  });

  it("stays unambiguous when a key contains the separator (destination names are slugs, versions integers)", () => {
    expect(webhookMessageId("a", "b\u00001", 2)).not.toBe(webhookMessageId("a", "b", 1));
  });
});
