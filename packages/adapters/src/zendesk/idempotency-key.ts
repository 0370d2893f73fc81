import { createHash } from "node:crypto";

export interface ZendeskIdempotencyKeyInput {
  readonly destination: string;
  readonly handoffKey: string;
  readonly version: number;
  /** The exact request body: Zendesk answers 400 when a key comes back with a different body. */
  readonly body: string;
  /** The ticket a recreate replaces, so the new create is not answered with the deleted ticket. */
  readonly replaces?: string;
}

/**
 * The create's `Idempotency-Key`: from destination, handoff key and version, plus the body's digest
 * and the ticket being replaced. Every retry of one version sends the same key with the same bytes;
 * a changed mapping or a recreate gets a new key instead of a 400. About 60 characters, well under
 * Zendesk's 255.
 */
export function zendeskIdempotencyKey(input: ZendeskIdempotencyKeyInput): string {
  const body = createHash("sha256").update(input.body).digest("base64url");
  const digest = createHash("sha256")
    .update(
      [input.destination, input.handoffKey, String(input.version), input.replaces ?? "", body].join("\0"),
    )
    .digest("base64url");
  return `handoff-sync-v${input.version}-${digest}`;
}
