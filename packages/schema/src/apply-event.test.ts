import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyEvent, type ApplyResult } from "./apply-event.js";
import { UnknownStateError } from "./errors.js";
import type { HandoffEvent } from "./events.js";
import { HandoffSnapshotSchema, type HandoffSnapshot } from "./snapshot.js";
import { createStateCatalogue } from "./states.js";

const catalogue = createStateCatalogue({ customer_refund: "initiated", callback_failed: "failed" });
const STATES = [
  "handoff_initiated",
  "handoff_completed",
  "handoff_failed",
  "customer_refund",
  "callback_failed",
];
const BASE_SECONDS = Date.UTC(2025, 0, 1) / 1000;

function event(
  eventId: string,
  state: string,
  occurredAt: string,
  patch: Partial<HandoffEvent> = {},
): HandoffEvent {
  return {
    schema_version: 1,
    event_id: eventId,
    id: "conv-1",
    state,
    occurred_at: occurredAt,
    data: {},
    ...patch,
  };
}

const at = (seconds: number) => new Date((BASE_SECONDS + seconds) * 1000).toISOString();
const ctx = (receivedAt = at(1000), maxHistory?: number) =>
  maxHistory === undefined ? { catalogue, receivedAt } : { catalogue, receivedAt, maxHistory };

function applyAll(
  events: readonly HandoffEvent[],
  maxHistory?: number,
): { snapshot: HandoffSnapshot; results: ApplyResult[] } {
  let snapshot: HandoffSnapshot | undefined;
  const results: ApplyResult[] = [];
  for (const e of events) {
    // received_at derives from the event so replays and reorderings are comparable.
    const result = applyEvent(
      snapshot,
      e,
      ctx(`2025-02-01T00:00:00.${e.event_id.padStart(3, "0").slice(-3)}Z`, maxHistory),
    );
    results.push(result);
    snapshot = result.snapshot;
  }
  if (snapshot === undefined) throw new Error("no events");
  return { snapshot, results };
}

describe("applyEvent", () => {
  it("creates a snapshot from the first event", () => {
    const result = applyEvent(
      undefined,
      event("e1", "handoff_initiated", at(0), {
        shared_id: "s1",
        data: { customer_id: "12345" },
        channel: "voice",
        destination: "live_agent_queue",
      }),
      ctx(at(1)),
    );
    expect(result.outcome).toBe("applied");
    expect(result.anomaly).toBeUndefined();
    expect(result.snapshot).toMatchObject({
      schema_version: 1,
      key: "s1",
      id: "conv-1",
      shared_id: "s1",
      state: "handoff_initiated",
      stage: "initiated",
      version: 1,
      occurred_at: at(0),
      data: { customer_id: "12345" },
      base_data: {},
      channel: "voice",
      destination: "live_agent_queue",
      created_at: at(1),
      updated_at: at(1),
    });
    expect(result.snapshot.history).toHaveLength(1);
    expect(HandoffSnapshotSchema.parse(result.snapshot)).toEqual(result.snapshot);
  });

  it("uses the resolved key from the context", () => {
    const result = applyEvent(undefined, event("e1", "handoff_initiated", at(0), { shared_id: "s1" }), {
      ...ctx(),
      key: "conv-1",
    });
    expect(result.snapshot.key).toBe("conv-1");
  });

  it("treats a repeated event_id as a no-op", () => {
    const first = applyEvent(undefined, event("e1", "handoff_initiated", at(0)), ctx());
    const again = applyEvent(first.snapshot, event("e1", "handoff_completed", at(5)), ctx(at(2000)));
    expect(again.outcome).toBe("duplicate");
    expect(again.snapshot).toBe(first.snapshot);
    expect(again.snapshot.version).toBe(1);
  });

  it("lets a stale event join the history without changing the current state", () => {
    const { snapshot } = applyAll([event("2", "handoff_completed", at(10), { data: { a: "new" } })]);
    const stale = applyEvent(
      snapshot,
      event("1", "handoff_initiated", at(5), { data: { a: "old", b: 1 } }),
      ctx(),
    );
    expect(stale.outcome).toBe("stale");
    expect(stale.snapshot.state).toBe("handoff_completed");
    expect(stale.snapshot.version).toBe(2);
    expect(stale.snapshot.history.map((h) => h.event_id)).toEqual(["1", "2"]);
    expect(stale.snapshot.data).toEqual({ a: "new", b: 1 });
    // The late initiated event repairs the history: the completion is no longer a first event.
    expect(stale.snapshot.history.map((h) => h.anomaly)).toEqual([undefined, undefined]);
  });

  it("orders by instant across offsets and sub-millisecond precision, ties by event_id", () => {
    const { snapshot } = applyAll([
      event("b", "handoff_initiated", "2025-01-01T01:00:00.000001+01:00"),
      event("a", "handoff_failed", "2025-01-01T00:00:00.000001Z"),
      event("c", "handoff_completed", "2025-01-01T00:00:00.0000009Z"),
    ]);
    expect(snapshot.history.map((h) => h.event_id)).toEqual(["c", "a", "b"]);
    expect(snapshot.state).toBe("handoff_initiated");
  });

  it("accepts a first event that is not initiated, flags it and still takes its state", () => {
    const result = applyEvent(undefined, event("e1", "handoff_completed", at(0)), ctx());
    expect(result.outcome).toBe("applied");
    expect(result.anomaly).toBe("first_not_initiated");
    expect(result.snapshot.state).toBe("handoff_completed");
  });

  it("flags initiated after completed as reopened and makes it current", () => {
    const { snapshot, results } = applyAll([
      event("1", "handoff_initiated", at(0)),
      event("2", "handoff_completed", at(1)),
      event("3", "customer_refund", at(2)),
    ]);
    expect(results.at(-1)?.anomaly).toBe("reopened");
    expect(snapshot.state).toBe("customer_refund");
    expect(snapshot.stage).toBe("initiated");
  });

  it("flags illegal transitions but ends at the latest state", () => {
    const { snapshot } = applyAll([
      event("1", "handoff_initiated", at(0)),
      event("2", "handoff_failed", at(1)),
      event("3", "handoff_completed", at(2)),
      event("4", "handoff_failed", at(3)),
    ]);
    expect(snapshot.history.map((h) => h.anomaly)).toEqual([
      undefined,
      undefined,
      "illegal_transition",
      "illegal_transition",
    ]);
    expect(snapshot.state).toBe("handoff_failed");
  });

  it("keeps the first shared_id and id, and the latest labels that were sent", () => {
    const { snapshot } = applyAll([
      event("1", "handoff_initiated", at(0), { channel: "voice", reason: "billing" }),
      event("2", "handoff_failed", at(1), { shared_id: "s1", id: "conv-2", destination: "queue_a" }),
      event("3", "handoff_initiated", at(2), { shared_id: "s2", channel: "sms" }),
    ]);
    expect(snapshot).toMatchObject({
      id: "conv-1",
      shared_id: "s1",
      channel: "sms",
      reason: "billing",
      destination: "queue_a",
    });
    expect(snapshot.history.map((h) => h.id)).toEqual(["conv-1", "conv-2", "conv-1"]);
  });

  it("throws UnknownStateError for a state outside the catalogue", () => {
    expect(() => applyEvent(undefined, event("e1", "mystery", at(0)), ctx())).toThrow(UnknownStateError);
    try {
      applyEvent(undefined, event("e1", "mystery", at(0)), ctx());
    } catch (err) {
      expect(err).toMatchObject({ reason: "unknown_state", retryable: false, state: "mystery" });
    }
  });

  it("rejects a non-positive maxHistory", () => {
    expect(() => applyEvent(undefined, event("e1", "handoff_initiated", at(0)), ctx(at(0), 0))).toThrow(
      RangeError,
    );
  });

  it("bounds the history, folding dropped data into base_data", () => {
    const { snapshot } = applyAll(
      [
        event("1", "handoff_initiated", at(0), { data: { a: 1, b: 1 }, channel: "voice" }),
        event("2", "handoff_failed", at(1), { data: { b: 2 } }),
        event("3", "handoff_initiated", at(2), { data: { c: 3 } }),
      ],
      2,
    );
    expect(snapshot.history.map((h) => h.event_id)).toEqual(["2", "3"]);
    expect(snapshot.base_data).toEqual({ a: 1, b: 1 });
    expect(snapshot.data).toEqual({ a: 1, b: 2, c: 3 });
    expect(snapshot.channel).toBe("voice");
    expect(snapshot.truncated).toMatchObject({ through_event_id: "1", stage: "initiated" });
    // Judged against the dropped entry, the kept failure is a legal transition.
    expect(snapshot.history[0]?.anomaly).toBeUndefined();

    const older = applyEvent(
      snapshot,
      event("0", "handoff_initiated", at(-1), { data: { a: 0, z: 0 } }),
      ctx(at(0), 2),
    );
    expect(older.outcome).toBe("stale");
    expect(older.snapshot.base_data).toEqual({ a: 1, b: 1, z: 0 });
    expect(older.snapshot.data).toEqual({ a: 1, b: 2, c: 3, z: 0 });

    const replay = applyEvent(
      older.snapshot,
      event("1", "handoff_initiated", at(0), { data: { a: 1, b: 1 } }),
      ctx(at(0), 2),
    );
    expect(replay.outcome).toBe("duplicate");
    expect(replay.snapshot).toBe(older.snapshot);
  });
});

// ---- properties -------------------------------------------------------------------------------------

interface Generated {
  readonly event: HandoffEvent;
  /** Microseconds since an epoch, computed independently of the implementation's parser. */
  readonly instant: number;
}

const OFFSETS = [0, 60, -330, 345];

function formatInstant(seconds: number, micros: number, offsetMinutes: number, precision: 0 | 3 | 6): string {
  const local = new Date((BASE_SECONDS + seconds + offsetMinutes * 60) * 1000).toISOString().slice(0, 19);
  const fraction = precision === 0 ? "" : `.${String(micros).padStart(6, "0").slice(0, precision)}`;
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  const offset =
    offsetMinutes === 0
      ? "Z"
      : `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  return `${local}${fraction}${offset}`;
}

const occurredAt = fc
  .record({
    seconds: fc.integer({ min: 0, max: 4 }),
    micros: fc.constantFrom(0, 500, 1000, 250_000),
    offset: fc.constantFrom(...OFFSETS),
  })
  .map(({ seconds, micros, offset }) => {
    const precision = micros % 1000 !== 0 ? 6 : micros === 0 ? 0 : 3;
    return { iso: formatInstant(seconds, micros, offset, precision), instant: seconds * 1_000_000 + micros };
  });

const dataRecord = fc.dictionary(
  fc.constantFrom("a", "b", "c", "customer_id"),
  fc.oneof(fc.integer(), fc.constant(null), fc.string()),
  {
    maxKeys: 3,
  },
);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const generatedEvents = fc
  .uniqueArray(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 12 })
  .chain((ids) =>
    fc.tuple(
      ...ids.map((n) =>
        fc
          .record({
            state: fc.constantFrom(...STATES),
            at: occurredAt,
            data: dataRecord,
            channel: maybe(fc.constantFrom("voice", "sms")),
            reason: maybe(fc.constantFrom("billing", "refund")),
          })
          .map(({ state, at: when, data, channel, reason }): Generated => ({
            instant: when.instant,
            event: {
              ...event(String(n), state, when.iso, { data, shared_id: "s1" }),
              ...(channel !== undefined && { channel }),
              ...(reason !== undefined && { reason }),
            },
          })),
      ),
    ),
  );

const withPermutation = generatedEvents.chain((events) =>
  fc.tuple(
    fc.constant(events),
    fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
  ),
);

const maxHistories = fc.constantFrom(undefined, 1, 2, 3, 5);

function withoutBookkeeping(snapshot: HandoffSnapshot): unknown {
  const { version: _v, created_at: _c, updated_at: _u, history, ...rest } = snapshot;
  return { ...rest, history: history.map(({ received_at: _r, ...entry }) => entry) };
}

function byInstantThenId(a: Generated, b: Generated): number {
  if (a.instant !== b.instant) return a.instant - b.instant;
  return a.event.event_id < b.event.event_id ? -1 : a.event.event_id > b.event.event_id ? 1 : 0;
}

describe("applyEvent properties", () => {
  it("any arrival order gives the same snapshot, bookkeeping aside", () => {
    fc.assert(
      fc.property(withPermutation, maxHistories, ([events, shuffled], maxHistory) => {
        const a = applyAll(
          events.map((g) => g.event),
          maxHistory,
        ).snapshot;
        const b = applyAll(
          shuffled.map((g) => g.event),
          maxHistory,
        ).snapshot;
        expect(withoutBookkeeping(b)).toEqual(withoutBookkeeping(a));
      }),
      { numRuns: 500 },
    );
  });

  it("the current state is the latest event's, and data merges in occurred_at order", () => {
    fc.assert(
      fc.property(generatedEvents, maxHistories, (events, maxHistory) => {
        const { snapshot } = applyAll(
          events.map((g) => g.event),
          maxHistory,
        );
        const ordered = [...events].sort(byInstantThenId);
        const latest = ordered.at(-1)?.event;
        expect(snapshot.state).toBe(latest?.state);
        expect(snapshot.occurred_at).toBe(latest?.occurred_at);
        expect(snapshot.data).toEqual(Object.assign({}, ...ordered.map((g) => g.event.data)));
        expect(snapshot.channel).toBe(ordered.findLast((g) => g.event.channel !== undefined)?.event.channel);
        expect(snapshot.reason).toBe(ordered.findLast((g) => g.event.reason !== undefined)?.event.reason);
        expect(HandoffSnapshotSchema.safeParse(snapshot).success).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("an event is 'applied' exactly when it is the latest so far, else 'stale'", () => {
    fc.assert(
      fc.property(generatedEvents, (events) => {
        const { results } = applyAll(events.map((g) => g.event));
        events.forEach((g, i) => {
          const latestSoFar = events
            .slice(0, i + 1)
            .sort(byInstantThenId)
            .at(-1);
          expect(results[i]?.outcome).toBe(latestSoFar === g ? "applied" : "stale");
          expect(results[i]?.snapshot.version).toBe(i + 1);
        });
      }),
    );
  });

  it("replayed events are no-ops, wherever they land", () => {
    const withReplays = generatedEvents.chain((events) =>
      fc.tuple(
        fc.constant(events),
        fc.array(fc.tuple(fc.nat(events.length - 1), fc.nat(events.length)), { maxLength: 8 }),
      ),
    );
    fc.assert(
      fc.property(withReplays, maxHistories, ([events, replays], maxHistory) => {
        const plain = events.map((g) => g.event);
        const replayed: HandoffEvent[] = [...plain];
        // Insert each replay after its original's position so it is a redelivery, not a first delivery.
        for (const [source, offset] of replays) {
          const original = plain[source];
          if (original === undefined) continue;
          const first = replayed.indexOf(original);
          replayed.splice(Math.min(first + 1 + offset, replayed.length), 0, { ...original });
        }
        const { snapshot: expected } = applyAll(plain, maxHistory);
        const { snapshot: actual, results } = applyAll(replayed, maxHistory);
        expect(actual).toEqual(expected);
        expect(results.filter((r) => r.outcome === "duplicate").length).toBeGreaterThanOrEqual(
          replays.length,
        );
      }),
      { numRuns: 300 },
    );
  });

  it("a bounded history keeps the same merge, labels and anomalies as an unbounded one", () => {
    fc.assert(
      fc.property(withPermutation, fc.integer({ min: 1, max: 5 }), ([events, shuffled], maxHistory) => {
        const full = applyAll(events.map((g) => g.event)).snapshot;
        const bounded = applyAll(
          shuffled.map((g) => g.event),
          maxHistory,
        ).snapshot;
        expect(bounded.history.length).toBeLessThanOrEqual(maxHistory);
        for (const field of [
          "state",
          "stage",
          "occurred_at",
          "data",
          "channel",
          "reason",
          "shared_id",
          "id",
        ] as const) {
          expect(bounded[field]).toEqual(full[field]);
        }
        const strip = (s: HandoffSnapshot) => s.history.map(({ received_at: _r, ...entry }) => entry);
        expect(strip(bounded)).toEqual(strip(full).slice(-bounded.history.length));
        const dropped = full.history.slice(0, full.history.length - bounded.history.length);
        expect(bounded.base_data).toEqual(Object.assign({}, ...dropped.map((h) => h.data)));
      }),
      { numRuns: 500 },
    );
  });
});
