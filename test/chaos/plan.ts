import { randomUUID } from "node:crypto";

/**
 * The producer's own record of what it sends. The oracle judges the run from this and the fake
 * CRMs' write logs only, never from the project's schema code.
 */
export interface PlannedEvent {
  readonly eventId: string;
  readonly handoff: string;
  readonly conversationId: string;
  readonly state: string;
  readonly occurredAt: string;
  /** The Kafka record key; some events use the conversation id, as a badly keyed producer would. */
  readonly kafkaKey: string;
  readonly payload: string;
}

export interface Plan {
  /** Valid events in send order, duplicates included (a duplicate repeats an event id). */
  readonly events: readonly PlannedEvent[];
  /** Records no valid event can be made of: they must end on the rejected-events topic. */
  readonly invalid: readonly string[];
  readonly handoffs: readonly string[];
}

const JOURNEYS: readonly (readonly string[])[] = [
  ["handoff_initiated", "handoff_completed"],
  ["handoff_initiated", "handoff_failed", "handoff_initiated", "handoff_completed"],
  ["customer_refund", "handoff_failed", "handoff_initiated", "handoff_failed", "handoff_initiated", "handoff_completed"],
  ["successfully_identified", "handoff_initiated", "handoff_failed"],
  ["complaint_escalation", "handoff_failed", "handoff_initiated", "handoff_failed", "handoff_initiated", "handoff_failed", "handoff_initiated", "handoff_completed"],
];

/** A seeded generator so a failing run can be reproduced from its printed seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Handoffs with full lifecycles, each state with new data, plus duplicates (about 8% of events
 * sent twice) and out-of-order arrivals (about a third of the handoffs send a later event before
 * an earlier one, some keyed by conversation id so they land on other partitions).
 */
export function makePlan(options: { handoffs: number; minEvents: number; run: string; random: () => number }): Plan {
  const { random } = options;
  const events: PlannedEvent[] = [];
  const handoffs: string[] = [];
  const base = Date.now() - 60_000;
  let h = 0;
  while (h < options.handoffs || events.length < options.minEvents) {
    const handoff = `chaos_${options.run}_${String(h).padStart(4, "0")}`;
    const conversationId = randomUUID();
    handoffs.push(handoff);
    const journey = JOURNEYS[h % JOURNEYS.length] ?? JOURNEYS[0] ?? [];
    const own: PlannedEvent[] = journey.map((state, step) => {
      const occurredAt = new Date(base + h * 10 + step * 1000).toISOString();
      const eventId = randomUUID();
      const badlyKeyed = random() < 0.15;
      return {
        eventId,
        handoff,
        conversationId,
        state,
        occurredAt,
        kafkaKey: badlyKeyed ? conversationId : handoff,
        payload: JSON.stringify({
          event_id: eventId,
          id: conversationId,
          shared_id: handoff,
          state,
          occurred_at: occurredAt,
          channel: step % 2 === 0 ? "voice" : "chat",
          reason: state === "handoff_failed" ? "transfer_failed" : "billing_question",
          data: { customer_id: String(10_000 + h), step, [`note_${step}`]: `state ${state}` },
        }),
      };
    });
    if (random() < 0.33 && own.length > 1) {
      const i = Math.floor(random() * (own.length - 1));
      const a = own[i];
      const b = own[i + 1];
      if (a && b) {
        own[i] = b;
        own[i + 1] = a;
      }
    }
    for (const event of own) {
      events.push(event);
      if (random() < 0.08) events.push(event);
    }
    h++;
  }
  const invalid = Array.from({ length: 20 }, (_, i) =>
    i % 2 === 0 ? `{"truncated": ${i}` : JSON.stringify({ event_id: randomUUID(), id: randomUUID(), state: "no_such_state", occurred_at: new Date().toISOString(), data: {} }),
  );
  return { events, invalid, handoffs };
}
