import { signWebhook } from "./sign.js";

export interface OperatorWebhookConfig {
  readonly url: string;
  /** Resolved secrets (`whsec_...`); every one signs, as for deliveries. */
  readonly secret: readonly string[];
  readonly timeout_ms: number;
}

/** The operational webhook failed; the notice is sent again on the operator loop's next look. */
export class OperatorWebhookError extends Error {
  static {
    this.prototype.name = "OperatorWebhookError";
  }
}

/**
 * Sends operational notices signed exactly as deliveries are (Standard Webhooks v1: `webhook-id`,
 * `webhook-timestamp`, `webhook-signature`), so the receiver verifies them with the same code. The
 * URL is the operator's own channel (set by whoever may edit the destinations file), so it is not
 * held to the private-network guard deliveries have.
 */
export function createOperatorWebhook(
  config: OperatorWebhookConfig,
  nowMs: () => number = Date.now,
): (id: string, notice: unknown) => Promise<void> {
  return async (id, notice) => {
    const body = JSON.stringify(notice);
    const timestampSec = Math.floor(nowMs() / 1000);
    let response: Response;
    try {
      response = await fetch(config.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "handoff-sync-operator",
          "webhook-id": id,
          "webhook-timestamp": String(timestampSec),
          "webhook-signature": signWebhook({ id, timestampSec, body, secrets: config.secret }),
        },
        body,
        signal: AbortSignal.timeout(config.timeout_ms),
      });
    } catch (error) {
      throw new OperatorWebhookError(
        `operational webhook not reachable: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    await response.body?.cancel().catch(() => undefined);
    if (!response.ok) throw new OperatorWebhookError(`operational webhook answered ${response.status}`);
  };
}
