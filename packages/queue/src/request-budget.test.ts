import { DestinationError } from "@handoff-sync/schema";
import { describe, expect, it } from "vitest";
import { createRequestBudget, DailyBudgetSpentError } from "./request-budget.js";

const T0 = Date.parse("2026-03-01T12:00:00.000Z");

describe("request budget", () => {
  it("slows before the window's limit: with 10% headroom, 9 of 10 go, the tenth waits for the oldest to leave", () => {
    let now = T0;
    const budget = createRequestBudget({ window: { max: 10, windowMs: 10_000 }, now: () => now });
    for (let i = 0; i < 9; i++) {
      expect(budget.take()).toBe(0);
      now += 100;
    }
    expect(budget.take()).toBe(10_000 - 900);
    now = T0 + 10_000;
    expect(budget.take()).toBe(0);
    expect(budget.snapshot()).toMatchObject({ windowUsed: 9, windowLimit: 10, dailyUsed: 10 });
  });

  it("counts what the CRM reports as used by others in the window", () => {
    const now = T0;
    const budget = createRequestBudget({ window: { max: 100, windowMs: 10_000 }, now: () => now });
    expect(budget.take()).toBe(0);
    // The CRM says 85 of 100 are gone: another app shares the account.
    budget.observe({ window: { max: 100, remaining: 15 } });
    expect(budget.snapshot().windowUsed).toBe(85);
    for (let i = 0; i < 5; i++) expect(budget.take()).toBe(0);
    expect(budget.take()).toBeGreaterThan(0);
  });

  it("parks on a spent day: a destination-wide error with the reset time, not a wait", () => {
    let now = T0;
    const budget = createRequestBudget({ daily: 2, now: () => now });
    expect(budget.take()).toBe(0);
    expect(budget.take()).toBe(0);
    let error: unknown;
    try {
      budget.take();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DailyBudgetSpentError);
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as DailyBudgetSpentError).message).toContain("2026-03-02T00:00:00.000Z");
    expect((error as DailyBudgetSpentError).retryAfterMs).toBe(12 * 3_600_000);
    now = Date.parse("2026-03-02T00:00:01.000Z");
    expect(budget.take()).toBe(0);
  });

  it("takes the daily allocation and usage from the CRM's headers", () => {
    const budget = createRequestBudget({ now: () => T0 });
    budget.observe({ daily: { used: 4_999, max: 5_000 } });
    expect(budget.snapshot()).toMatchObject({ dailyUsed: 4_999, dailyLimit: 5_000 });
    expect(budget.take()).toBe(0);
    expect(() => budget.take()).toThrow(DailyBudgetSpentError);
  });

  it("counts a request in the window from its answer: the CRM counted it on arrival, after the send", async () => {
    let now = T0;
    const budget = createRequestBudget({ window: { max: 100, windowMs: 10_000 }, now: () => now });
    // A worker of concurrency 16 sends 16 at once; HubSpot receives them a few ms later (claims,
    // connections) and answers 150 ms after that.
    const first = await Promise.all(Array.from({ length: 16 }, () => budget.acquire()));
    now = T0 + 161;
    for (const request of first) request.answered();
    // The rest of the usable 90 of this window.
    for (let i = 0; i < 74; i++) (await budget.acquire()).answered();
    expect(budget.take()).toBeGreaterThan(0);
    // Ten seconds after the first 16 were sent HubSpot still counts them (it received them at
    // T0 + 11): sending 16 now would make 106 in its window, 6 answered 429.
    now = T0 + 10_000;
    expect(budget.take()).toBe(161);
    now = T0 + 10_161;
    for (let i = 0; i < 16; i++) expect(budget.take()).toBe(0);
  });

  it("counts a request that took longer than the window again from its answer", async () => {
    let now = T0;
    const budget = createRequestBudget({ window: { max: 2, windowMs: 1_000 }, headroom: 0, now: () => now });
    const slow = await budget.acquire();
    now = T0 + 5_000;
    expect(budget.snapshot().windowUsed).toBe(0);
    slow.answered();
    slow.answered();
    expect(budget.snapshot()).toMatchObject({ windowUsed: 1, dailyUsed: 1 });
  });

  it("acquire() waits out the window instead of failing", async () => {
    const budget = createRequestBudget({ window: { max: 2, windowMs: 200 }, headroom: 0 });
    const started = Date.now();
    for (let i = 0; i < 3; i++) await budget.acquire();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });
});
