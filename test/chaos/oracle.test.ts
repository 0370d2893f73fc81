import { describe, expect, it } from "vitest";
import {
  expectedFinal,
  reconcile,
  type CrmRecord,
  type CrmView,
  type Evidence,
  type ExpectedHandoff,
} from "./oracle.js";
import { makePlan, makeReturnPlan, seededRandom, type Plan, type PlannedEvent } from "./plan.js";

const plan = makePlan({ handoffs: 60, minEvents: 200, run: "t", random: seededRandom(7) });
const final = expectedFinal(plan);

/** A CRM that holds exactly what the oracle expects, under each handoff's first key, unless told otherwise. */
function crmFrom(
  name: string,
  records: Map<string, CrmRecord[]>,
  writes = [...records].flatMap(([key, rs]) =>
    rs.map((r) => ({
      handoff: key,
      recordId: r.recordId,
      version: r.version,
      state: r.state,
      created: true,
    })),
  ),
): CrmView {
  return { name, writes, recordsFor: (key) => records.get(key) ?? [] };
}

function perfect(
  withData = true,
  keyOf: (e: ExpectedHandoff) => string = (e) => e.keys[0] ?? e.handoff,
): Map<string, CrmRecord[]> {
  const records = new Map<string, CrmRecord[]>();
  for (const expected of final.values()) {
    const key = keyOf(expected);
    records.set(key, [
      {
        recordId: key,
        version: expected.versionsAdded,
        state: expected.state,
        ...(withData && { data: expected.data }),
      },
    ]);
  }
  return records;
}

/** Every invalid record rejected once, from an offset of its own. */
function rejections(p: Plan): Evidence["rejected"] {
  return p.invalid.map((value, i) => ({ value, sourcePartition: "0", sourceOffset: String(i) }));
}

const clean: Evidence = { deadLetters: [], rejected: rejections(plan) };
const first = [...final.values()][0] as ExpectedHandoff;

describe("chaos plan", () => {
  it("has id-only events, conversation-keyed handoffs, equal instants and unique invalid records", () => {
    expect(plan.events.some((e) => e.sharedId === undefined && e.kafkaKey === e.conversationId)).toBe(true);
    expect(plan.handoffs.some((h) => h.keys.length === 2)).toBe(true);
    expect(
      plan.handoffs.some(
        (h) => h.handoff === plan.events.find((e) => e.handoff === h.handoff)?.conversationId,
      ),
    ).toBe(true);
    const instants = new Map<string, Set<string>>();
    let equal = 0;
    for (const e of plan.events) {
      const key = `${e.handoff} ${e.occurredAt}`;
      const ids = instants.get(key) ?? new Set<string>();
      ids.add(e.eventId);
      instants.set(key, ids);
      if (ids.size === 2) equal++;
    }
    expect(equal).toBeGreaterThan(0);
    expect(new Set(plan.invalid).size).toBe(plan.invalid.length);
    for (const e of plan.events) {
      const payload = JSON.parse(e.payload) as { shared_id?: string; data: unknown };
      expect(payload.shared_id).toBe(e.sharedId);
      expect(payload.data).toEqual(e.data);
    }
  });

  it("can leave id-only events out", () => {
    const shared = makePlan({
      handoffs: 40,
      minEvents: 100,
      run: "s",
      random: seededRandom(3),
      idOnlyEvents: false,
    });
    expect(shared.events.every((e) => e.sharedId === e.handoff)).toBe(true);
  });

  it("brings shared-id handoffs back later than anything sent before", () => {
    const back = makeReturnPlan(plan, { run: "b" });
    const latestBefore = plan.events.reduce((max, e) => (e.occurredAt > max ? e.occurredAt : max), "");
    expect(back.handoffs.length).toBeGreaterThan(0);
    expect(
      back.events.every(
        (e) => e.occurredAt > latestBefore && back.handoffs.some((h) => h.handoff === e.handoff),
      ),
    ).toBe(true);
  });
});

describe("expected final state", () => {
  const event = (id: string, at: string, state: string, data: Record<string, unknown>): PlannedEvent => ({
    eventId: id,
    handoff: "h",
    conversationId: "c",
    sharedId: "h",
    state,
    occurredAt: at,
    kafkaKey: "h",
    data,
    payload: id,
  });
  const tiny = (events: PlannedEvent[]): Plan => ({
    events,
    invalid: [],
    handoffs: [{ handoff: "h", keys: ["h"] }],
  });

  it("breaks equal instants by event id in code-unit order, and merges data in that order", () => {
    // "Z" (0x5a) sorts before "a" (0x61) by code units, after it by locale.
    const result = expectedFinal(
      tiny([
        event("a", "2026-01-01T00:00:00.000Z", "handoff_completed", { x: 1, a: true }),
        event("Z", "2026-01-01T00:00:00.000Z", "handoff_failed", { x: 2 }),
      ]),
    );
    expect(result.get("h")).toMatchObject({
      state: "handoff_completed",
      latestEventId: "a",
      versionsAdded: 2,
      data: { x: 1, a: true },
    });
  });

  it("counts a duplicate once and merges a late event under the later ones", () => {
    const late = event("late", "2026-01-01T00:00:00.000Z", "handoff_initiated", { x: 0, early: 1 });
    const result = expectedFinal(
      tiny([event("b", "2026-01-01T00:00:01.000Z", "handoff_completed", { x: 2 }), late, late]),
    );
    expect(result.get("h")).toMatchObject({
      state: "handoff_completed",
      versionsAdded: 2,
      data: { x: 2, early: 1 },
    });
  });
});

describe("chaos oracle", () => {
  it("accounts for every event when every CRM ends at the latest state and data", () => {
    const verdict = reconcile(plan, [crmFrom("a", perfect()), crmFrom("b", perfect(false))], clean);
    expect(verdict).toMatchObject({
      lost: 0,
      duplicates: 0,
      backward: 0,
      wrongData: 0,
      delivered: plan.handoffs.length,
      rejected: plan.invalid.length,
    });
    expect(verdict.problems).toEqual([]);
    expect(verdict.delivered + verdict.superseded + verdict.rejected).toBe(verdict.events);
  });

  it("accepts either key of a handoff the producer sent with both ids, but only one record", () => {
    const mixed = [...final.values()].find((e) => e.keys.length === 2) as ExpectedHandoff;
    const underConversation = perfect(true, (e) => (e === mixed ? (e.keys[1] ?? "") : (e.keys[0] ?? "")));
    expect(reconcile(plan, [crmFrom("a", underConversation)], clean).problems).toEqual([]);
    const both = perfect();
    both.set(mixed.keys[1] ?? "", [{ recordId: "second", version: 1, state: "handoff_initiated" }]);
    expect(reconcile(plan, [crmFrom("a", both)], clean).duplicates).toBe(1);
  });

  it("counts a handoff a CRM never got as lost, even when another destination dead-lettered it", () => {
    const missing = perfect();
    missing.delete(first.keys[0] ?? "");
    const otherDestination: Evidence = {
      ...clean,
      deadLetters: [{ destination: "b", key: first.keys[0] ?? "", version: first.versionsAdded }],
    };
    expect(
      reconcile(plan, [crmFrom("a", missing), crmFrom("b", perfect())], otherDestination).lost,
    ).toBeGreaterThan(0);
  });

  it("excuses a missing handoff only by a dead letter of its final version at that destination", () => {
    const missing = perfect();
    missing.delete(first.keys[0] ?? "");
    const older: Evidence = {
      ...clean,
      deadLetters: [{ destination: "a", key: first.keys[0] ?? "", version: first.versionsAdded - 1 }],
    };
    expect(reconcile(plan, [crmFrom("a", missing)], older).lost).toBeGreaterThan(0);
    const lastWord: Evidence = {
      ...clean,
      deadLetters: [{ destination: "a", key: first.keys[0] ?? "", version: first.versionsAdded }],
    };
    const verdict = reconcile(plan, [crmFrom("a", missing)], lastWord);
    expect(verdict.lost).toBe(0);
    expect(verdict.deadLettered).toBe(plan.events.filter((e) => e.handoff === first.handoff).length);
  });

  it("counts wrong data on a record at the right version", () => {
    const records = perfect();
    const key = first.keys[0] ?? "";
    const [record] = records.get(key) ?? [];
    records.set(key, [{ ...(record as CrmRecord), data: { ...first.data, customer_id: "someone else" } }]);
    expect(reconcile(plan, [crmFrom("a", records)], clean).wrongData).toBe(1);
  });

  it("counts a second record and a backward write", () => {
    const records = perfect();
    const key = first.keys[0] ?? "";
    records.set(key, [...(records.get(key) ?? []), { recordId: "r2", version: 1, state: "x" }]);
    const writes = [
      { handoff: key, recordId: "r1", version: 3, state: "x", created: true },
      { handoff: key, recordId: "r1", version: 2, state: "x", created: false },
    ];
    const verdict = reconcile(plan, [crmFrom("a", records, writes)], clean);
    expect(verdict.duplicates).toBe(1);
    expect(verdict.backward).toBe(1);
  });

  it("counts rejections per source offset: one record rejected twice does not cover another never rejected", () => {
    const [once, ...rest] = rejections(plan);
    const doubled = [...rest.slice(1), ...(once ? [once, { ...once, sourceOffset: once.sourceOffset }] : [])];
    const verdict = reconcile(plan, [crmFrom("a", perfect())], { deadLetters: [], rejected: doubled });
    expect(verdict.rejected).toBe(plan.invalid.length - 1);
    expect(verdict.lost).toBe(1);
  });

  it("counts a valid event on the rejected-events topic as lost", () => {
    const event = plan.events[0] as PlannedEvent;
    const verdict = reconcile(plan, [crmFrom("a", perfect())], {
      deadLetters: [],
      rejected: [...rejections(plan), { value: event.payload, sourcePartition: "1", sourceOffset: "9" }],
    });
    expect(verdict.lost).toBe(1);
  });

  it("judges a returned handoff by versions above its past lifetime's", () => {
    const back = makeReturnPlan(plan, { run: "b" });
    const returned = expectedFinal(back);
    const floors = new Map([...returned.keys()].map((h) => [h, 9]));
    const records = (version: number): Map<string, CrmRecord[]> =>
      new Map(
        [...returned.values()].map((e) => [
          e.handoff,
          [{ recordId: e.handoff, version, state: e.state, data: e.data }],
        ]),
      );
    const evidence: Evidence = { deadLetters: [], rejected: rejections(back) };
    expect(reconcile(back, [crmFrom("a", records(11))], evidence, { versionAbove: floors }).lost).toBe(0);
    expect(
      reconcile(back, [crmFrom("a", records(9))], evidence, { versionAbove: floors }).lost,
    ).toBeGreaterThan(0);
  });
});
