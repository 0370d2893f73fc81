import { createHash } from "node:crypto";

/**
 * `webhook-id`, the receiver's idempotency key: a retry of the same version keeps it, a new version
 * gets a new one, so a receiver never drops newer content as a duplicate.
 */
export function webhookMessageId(destination: string, key: string, version: number): string {
  const digest = createHash("sha256").update(`${destination}\0${key}\0${version}`).digest("base64url");
  return `msg_${digest.slice(0, 32)}`;
}
