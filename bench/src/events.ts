import { randomBytes } from "node:crypto";

/** Events for one phase: each a distinct handoff, so no delivery folds into another. */
export interface EventSource {
  /** The next event as Kafka key and JSON value, `occurred_at` set now. */
  next(): { key: string; value: string };
}

const REASONS = ["billing_question", "refund_request", "complaint", "identity_check"];

export function createEventSource(label: string): EventSource {
  const run = `${label}-${randomBytes(4).toString("hex")}`;
  let seq = 0;
  return {
    next() {
      const n = seq++;
      const sharedId = `bench-${run}-${n}`;
      const event = {
        event_id: `evt-${run}-${n}`,
        id: `conv-${run}-${n}`,
        shared_id: sharedId,
        state: "handoff_initiated",
        occurred_at: new Date().toISOString(),
        channel: "webchat",
        destination: "live_agent_queue",
        reason: REASONS[n % REASONS.length] ?? "billing_question",
        // What a live agent needs on screen, about the size production events carry.
        data: {
          customer_id: `cust-${run}-${n}`,
          verification_status: "verified",
          language: "en",
          entities: { order_id: `ord-${n}`, amount: "42.50", currency: "EUR" },
          summary: "Customer asks why the last invoice was charged twice and wants a refund.",
        },
      };
      return { key: sharedId, value: JSON.stringify(event) };
    },
  };
}
