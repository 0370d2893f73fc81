import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from "node:crypto";
import { headerValue, type HeaderBag } from "../http/headers.js";
import { webhookSecretKey } from "./secret.js";

export interface SignInput {
  readonly id: string;
  readonly timestampSec: number;
  /** The exact bytes sent; signing a re-serialisation would not match on the receiver. */
  readonly body: string | Uint8Array;
  /** Several while rotating: one signature each, and the receiver accepts any. */
  readonly secrets: readonly string[];
}

function signature(
  key: Buffer | KeyObject,
  id: string,
  timestampSec: number,
  body: string | Uint8Array,
): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestampSec}.`).update(body).digest();
}

/** Signs messages with a fixed set of secrets: `webhook-signature` header values. */
export type WebhookSigner = (message: Omit<SignInput, "secrets">) => string;

/**
 * Decodes and imports the secrets once (a `KeyObject` each), so signing a delivery costs one HMAC
 * per secret and nothing else; building the key from bytes on every request showed in the profile.
 */
export function createWebhookSigner(secrets: readonly string[]): WebhookSigner {
  // Imported on first use: a malformed secret fails each signing, as it did before, not the
  // adapter's construction (which would stop a worker that serves other destinations too).
  let keys: KeyObject[] | undefined;
  return ({ id, timestampSec, body }) => {
    if (secrets.length === 0) throw new TypeError("at least one webhook secret is needed");
    keys ??= secrets.map((secret) => createSecretKey(webhookSecretKey(secret)));
    return keys.map((key) => `v1,${signature(key, id, timestampSec, body).toString("base64")}`).join(" ");
  };
}

/** The `webhook-signature` header value: `v1,<base64>` per secret, space-separated. */
export function signWebhook({ secrets, ...message }: SignInput): string {
  return createWebhookSigner(secrets)(message);
}

export type WebhookVerificationFailure =
  | "missing_headers"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "no_matching_signature";

export class WebhookVerificationError extends Error {
  static {
    this.prototype.name = "WebhookVerificationError";
  }

  constructor(readonly reason: WebhookVerificationFailure) {
    super(`webhook verification failed: ${reason}`);
  }
}

export interface VerifyInput {
  readonly headers: HeaderBag;
  readonly body: string | Uint8Array;
  readonly secrets: readonly string[];
  /** Replay window either side of now; the spec's libraries use five minutes. */
  readonly toleranceSec?: number;
  readonly nowSec?: number;
}

/** Returns true or throws WebhookVerificationError saying why; signatures are compared in constant time. */
export function verifyWebhook({
  headers,
  body,
  secrets,
  toleranceSec = 300,
  nowSec = Math.floor(Date.now() / 1_000),
}: VerifyInput): true {
  const id = headerValue(headers, "webhook-id");
  const timestamp = headerValue(headers, "webhook-timestamp");
  const signatures = headerValue(headers, "webhook-signature");
  if (id === undefined || timestamp === undefined || signatures === undefined)
    throw new WebhookVerificationError("missing_headers");
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookVerificationError("invalid_timestamp");
  const timestampSec = Number(timestamp);
  if (timestampSec < nowSec - toleranceSec) throw new WebhookVerificationError("timestamp_too_old");
  if (timestampSec > nowSec + toleranceSec) throw new WebhookVerificationError("timestamp_too_new");

  const received = signatures
    .split(" ")
    .filter((entry) => entry.startsWith("v1,"))
    .map((entry) => Buffer.from(entry.slice(3), "base64"));
  for (const secret of secrets) {
    const expected = signature(webhookSecretKey(secret), id, timestampSec, body);
    // Length differs only for malformed input, which reveals nothing about the secret.
    if (
      received.some(
        (candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected),
      )
    )
      return true;
  }
  throw new WebhookVerificationError("no_matching_signature");
}
