import { randomUUID } from "node:crypto";

/**
 * The producer's own record of what it sends. The oracle judges the run from this and the fake
 * CRMs' logs only, never from the project's schema code.
 */
export interface PlannedEvent {
  readonly eventId: string;
  /** The handoff this event belongs to, as the producer knows it (its shared id, or its conversation id when it has none). */
  readonly handoff: string;
  readonly conversationId: string;
  /** Absent on events a producer sent with the conversation id only. */
  readonly sharedId: string | undefined;
  readonly state: string;
  readonly occurredAt: string;
  /** The Kafka record key: the shared id, or the conversation id as a producer that keys by `id` sends it. */
  readonly kafkaKey: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly payload: string;
}

export interface PlannedHandoff {
  readonly handoff: string;
  /** Every key the CRM may know the handoff by: the first of its ids the store saw wins. */
  readonly keys: readonly string[];
}

export interface Plan {
  /** Valid events in send order, duplicates included (a duplicate repeats an event id). */
  readonly events: readonly PlannedEvent[];
  /** Records no valid event can be made of, each unique: they must end on the rejected-events topic. */
  readonly invalid: readonly string[];
  readonly handoffs: readonly PlannedHandoff[];
}

const JOURNEYS: readonly (readonly string[])[] = [
  ["handoff_initiated", "handoff_completed"],
  ["handoff_initiated", "handoff_failed", "handoff_initiated", "handoff_completed"],
  [
    "customer_refund",
    "handoff_failed",
    "handoff_initiated",
    "handoff_failed",
    "handoff_initiated",
    "handoff_completed",
  ],
  ["successfully_identified", "handoff_initiated", "handoff_failed"],
  [
    "complaint_escalation",
    "handoff_failed",
    "handoff_initiated",
    "handoff_failed",
    "handoff_initiated",
    "handoff_failed",
    "handoff_initiated",
    "handoff_completed",
  ],
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

export interface PlanOptions {
  readonly handoffs: number;
  readonly minEvents: number;
  readonly run: string;
  readonly random: () => number;
  /** Producers that send some events with the conversation id only, keyed by it (default true). */
  readonly idOnlyEvents?: boolean;
  /** The first event's instant, in ms since the epoch (default a minute ago). */
  readonly startAt?: number;
}

type Shape = "shared" | "mixed" | "conversation_only";

function eventOf(
  h: number,
  step: number,
  state: string,
  ids: { handoff: string; conversationId: string; sharedId: string | undefined },
  occurredAt: string,
  kafkaKey: string,
): PlannedEvent {
  const eventId = randomUUID();
  // Each step sends a field of its own, rewrites `step` and sometimes replaces a nested object whole.
  const data: Record<string, unknown> = {
    customer_id: String(10_000 + h),
    step,
    [`note_${step}`]: `state ${state}`,
  };
  if (step % 3 === 0) data.entities = { step, intent: state };
  return {
    eventId,
    handoff: ids.handoff,
    conversationId: ids.conversationId,
    sharedId: ids.sharedId,
    state,
    occurredAt,
    kafkaKey,
    data,
    payload: JSON.stringify({
      event_id: eventId,
      id: ids.conversationId,
      ...(ids.sharedId !== undefined && { shared_id: ids.sharedId }),
      state,
      occurred_at: occurredAt,
      channel: step % 2 === 0 ? "voice" : "chat",
      reason: state === "handoff_failed" ? "transfer_failed" : "billing_question",
      data,
    }),
  };
}

/**
 * Handoffs with full lifecycles, each state with new data, plus what producers really send:
 * duplicates (about 8% of events sent twice), out-of-order arrivals (about a third of the handoffs
 * send a later event before an earlier one), events keyed by conversation id so they land on other
 * partitions, producers that leave the shared id out of some events or of all of them, and events
 * of one handoff stamped with the same instant.
 */
export function makePlan(options: PlanOptions): Plan {
  const { random } = options;
  const events: PlannedEvent[] = [];
  const handoffs: PlannedHandoff[] = [];
  const base = options.startAt ?? Date.now() - 60_000;
  let h = 0;
  while (h < options.handoffs || events.length < options.minEvents) {
    const sharedId = `chaos_${options.run}_${String(h).padStart(4, "0")}`;
    const conversationId = randomUUID();
    const roll = random();
    const shape: Shape =
      options.idOnlyEvents === false
        ? "shared"
        : roll < 0.05
          ? "conversation_only"
          : roll < 0.175
            ? "mixed"
            : "shared";
    const handoff = shape === "conversation_only" ? conversationId : sharedId;
    handoffs.push({ handoff, keys: shape === "mixed" ? [sharedId, conversationId] : [handoff] });
    const journey = JOURNEYS[h % JOURNEYS.length] ?? JOURNEYS[0] ?? [];
    const equalInstantAt =
      journey.length > 1 && random() < 0.1 ? Math.floor(random() * (journey.length - 1)) + 1 : -1;
    const own: PlannedEvent[] = journey.map((state, step) => {
      // Two steps on one instant: the history orders them by event id.
      const at = step === equalInstantAt ? step - 1 : step;
      const occurredAt = new Date(base + h * 10 + at * 1000).toISOString();
      const idOnly = shape === "conversation_only" || (shape === "mixed" && step % 2 === 1);
      const keyedByConversation = idOnly || random() < 0.15;
      return eventOf(
        h,
        step,
        state,
        { handoff, conversationId, sharedId: idOnly ? undefined : sharedId },
        occurredAt,
        keyedByConversation ? conversationId : sharedId,
      );
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
    i % 2 === 0
      ? `{"truncated": ${i}, "run": "${options.run}"`
      : JSON.stringify({
          event_id: randomUUID(),
          id: randomUUID(),
          state: "no_such_state",
          occurred_at: new Date().toISOString(),
          data: {},
        }),
  );
  return { events, invalid, handoffs };
}

/**
 * The same handoffs coming back after their retention ended: new conversations under the same
 * shared ids, later than anything sent before.
 */
export function makeReturnPlan(first: Plan, options: { run: string }): Plan {
  const shared = first.handoffs.filter(
    (h) => h.keys.length === 1 && h.keys[0] === h.handoff && h.handoff.startsWith("chaos_"),
  );
  const events: PlannedEvent[] = [];
  const base = Date.now();
  shared.forEach(({ handoff }, h) => {
    const conversationId = randomUUID();
    const journey = ["handoff_initiated", "handoff_completed"];
    journey.forEach((state, step) => {
      const occurredAt = new Date(base + h * 10 + step * 1000).toISOString();
      events.push(
        eventOf(h, step + 100, state, { handoff, conversationId, sharedId: handoff }, occurredAt, handoff),
      );
    });
  });
  const invalid = [`{"truncated": "return", "run": "${options.run}"`];
  return { events, invalid, handoffs: shared };
}
