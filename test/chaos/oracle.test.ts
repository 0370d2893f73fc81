import { describe, expect, it } from "vitest";
import { reconcile, type CrmView } from "./oracle.js";
import { makePlan, seededRandom } from "./plan.js";

const plan = makePlan({ handoffs: 5, minEvents: 10, run: "t", random: seededRandom(7) });

function crmFrom(name: string, finals: Map<string, { version: number; state: string }>, extra: Partial<CrmView> = {}): CrmView {
  return {
    name,
    writes: [...finals].map(([handoff, f]) => ({ handoff, recordId: handoff, version: f.version, state: f.state, created: true })),
    recordsFor: (handoff) => {
      const f = finals.get(handoff);
      return f ? [{ recordId: handoff, ...f }] : [];
    },
    ...extra,
  };
}

describe("chaos oracle", () => {
  const finals = new Map<string, { version: number; state: string }>();
  for (const handoff of plan.handoffs) {
    const events = plan.events.filter((e) => e.handoff === handoff);
    const latest = [...events].sort((a, b) => a.occurredAt.localeCompare(b.occurredAt) || a.eventId.localeCompare(b.eventId)).at(-1);
    finals.set(handoff, { version: new Set(events.map((e) => e.eventId)).size, state: latest?.state ?? "" });
  }

  it("accounts for every event when every CRM ends at the latest state", () => {
    const verdict = reconcile(plan, [crmFrom("a", finals)], new Set(), plan.invalid.length);
    expect(verdict).toMatchObject({ lost: 0, duplicates: 0, backward: 0, delivered: plan.handoffs.length, rejected: plan.invalid.length });
    expect(verdict.delivered + verdict.superseded + verdict.rejected).toBe(verdict.events);
  });

  it("counts a handoff a CRM never got as lost", () => {
    const missing = new Map(finals);
    missing.delete(plan.handoffs[0] ?? "");
    expect(reconcile(plan, [crmFrom("a", missing)], new Set(), plan.invalid.length).lost).toBeGreaterThan(0);
  });

  it("counts a second record and a backward write", () => {
    const first = plan.handoffs[0] ?? "";
    const twice = crmFrom("a", finals, {
      recordsFor: (handoff) => (handoff === first ? [{ recordId: "r1", version: 1, state: "x" }, { recordId: "r2", ...(finals.get(first) ?? { version: 0, state: "" }) }] : [{ recordId: handoff, ...(finals.get(handoff) ?? { version: 0, state: "" }) }]),
      writes: [
        { handoff: first, recordId: "r1", version: 3, state: "x", created: true },
        { handoff: first, recordId: "r1", version: 2, state: "x", created: false },
      ],
    });
    const verdict = reconcile(plan, [twice], new Set(), plan.invalid.length);
    expect(verdict.duplicates).toBe(1);
    expect(verdict.backward).toBe(1);
  });
});
