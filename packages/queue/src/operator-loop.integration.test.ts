import { createLogger } from "@handoff-sync/telemetry";
import { testRedisTarget, uniqueName } from "@handoff-sync/testing";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDeliveryQueues } from "./delivery-queues.js";
import { createOperatorLoop, type AuditStep, type OperatorNotice } from "./operator-loop.js";
import type { ParkRecord } from "./destination-state.js";
import { parkDestination, resumeDestination } from "./park.js";
import { createRequestBudget, type BudgetSnapshot } from "./request-budget.js";
import { createRedisClient } from "@handoff-sync/store";

const log = createLogger({ level: "silent", service: "test" });
const settings = {
  probeIntervalMs: 1000,
  autoResume: { auth: true, outage: true, quota: true, config: false },
  deadLetterThreshold: { count: 3, windowMs: 60_000 },
  quotaWarningAfterMs: 60_000,
  quotaWarningShare: 0.8,
};

describe("operator loop (real Redis)", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  afterAll(() => connection.quit());

  function harness(
    options: {
      failSends?: number;
      check?: () => Promise<void>;
      usage?: () => BudgetSnapshot | undefined;
    } = {},
  ) {
    const prefix = uniqueName("t");
    const queues = createDeliveryQueues({
      connection,
      prefix,
      destinations: { crm: { attempts: 3, base_delay_ms: 10, max_delay_ms: 10 } },
    });
    const queue = queues.get("crm");
    const sent: { id: string; notice: OperatorNotice }[] = [];
    const audits: AuditStep[] = [];
    let failSends = options.failSends ?? 0;
    let checks = 0;
    let clock = Date.parse("2026-12-07T10:00:00.000Z");
    const loop = createOperatorLoop({
      queues: () => [queue],
      check: () => async () => {
        checks++;
        await options.check?.();
      },
      send: (id, notice) => {
        if (failSends-- > 0) return Promise.reject(new Error("channel down"));
        sent.push({ id, notice });
        return Promise.resolve();
      },
      audit: (step) => {
        audits.push(step);
        return Promise.resolve();
      },
      ...(options.usage === undefined ? {} : { usage: options.usage }),
      log,
      settings,
      now: () => clock,
    });
    return {
      queue,
      loop,
      /** Parks the destination now, on the harness's clock. */
      park: (record: Omit<ParkRecord, "parked_at">) =>
        parkDestination(queue, queue.state, record, log, new Date(clock)),
      sent,
      audits,
      checks: () => checks,
      advance: (ms: number) => (clock += ms),
      at: () => new Date(clock),
      close: () => queues.close(),
    };
  }

  it("a config error is announced once, never probed; an operator's resume is announced with who did it", async () => {
    const h = harness();
    try {
      await h.park({
        reason: "unknown field Foo__c",
        admin_hint: "fix the mapping",
        by: "worker",
        cause: "config",
      });
      for (let i = 0; i < 3; i++) {
        h.advance(2000);
        await h.loop.tick();
      }
      expect(h.sent.map((s) => s.notice.type)).toEqual(["destination.parked"]);
      expect(h.sent[0]?.notice.data).toMatchObject({ cause: "config", auto_resume: false });
      expect(h.checks()).toBe(0);
      await resumeDestination(h.queue, h.queue.state, log, "alice", h.at());
      await h.loop.tick();
      await h.loop.tick();
      expect(h.sent.map((s) => s.notice.type)).toEqual(["destination.parked", "destination.resumed"]);
      expect(h.sent[1]?.notice.data).toMatchObject({ by: "alice", reason: "unknown field Foo__c" });
    } finally {
      await h.close();
    }
  });

  it("an auth park is probed each interval, audited, and resumed by itself when the check passes", async () => {
    let broken = true;
    const h = harness({
      check: () => (broken ? Promise.reject(new Error("401 invalid credentials")) : Promise.resolve()),
    });
    try {
      await h.park({ reason: "401", admin_hint: "rotate the token", by: "worker", cause: "auth" });
      await h.loop.tick();
      // Not probed before an interval has passed since parking.
      expect(h.checks()).toBe(0);
      h.advance(1000);
      await h.loop.tick();
      // Same interval: one probe only.
      await h.loop.tick();
      expect(h.checks()).toBe(1);
      expect(await h.queue.state.getPark()).toBeDefined();
      expect(h.audits).toEqual([
        expect.objectContaining({ action: "destination.probe", outcome: "failed", target: "crm" }),
      ]);
      broken = false;
      h.advance(1000);
      await h.loop.tick();
      expect(await h.queue.state.getPark()).toBeUndefined();
      expect(await h.queue.deliver.isPaused()).toBe(false);
      expect(h.audits.map((a) => `${a.action} ${a.outcome}`)).toEqual([
        "destination.probe failed",
        "destination.probe ok",
        "destination.resume ok",
      ]);
      expect(h.sent.map((s) => [s.notice.type, s.notice.data.destination])).toEqual([
        ["destination.parked", "crm"],
        ["destination.resumed", "crm"],
      ]);
      expect(h.sent[1]?.notice.data).toMatchObject({ by: "probe" });
    } finally {
      await h.close();
    }
  });

  it("an operator's pause is never resumed by the probe", async () => {
    const h = harness();
    try {
      await h.park({ reason: "maintenance", admin_hint: "-", by: "alice", cause: "operator" });
      h.advance(5000);
      await h.loop.tick();
      expect(h.checks()).toBe(0);
      expect(await h.queue.state.getPark()).toBeDefined();
    } finally {
      await h.close();
    }
  });

  it("dead-lettering above the threshold and a long 429 streak are announced once each", async () => {
    const h = harness();
    try {
      for (let i = 0; i < 5; i++) await h.loop.deadLettered(h.queue);
      await h.queue.state.rateLimitedSince(h.at().getTime() - 61_000);
      await h.loop.tick();
      await h.loop.tick();
      expect(h.sent.map((s) => s.notice.type)).toEqual([
        "destination.dead_lettering",
        "destination.quota_near",
      ]);
      expect(h.sent[0]?.notice.data).toMatchObject({ dead_letters: 3, window_ms: 60_000 });
      expect(h.sent[1]?.notice.data).toMatchObject({ limit: "rate_limited" });
    } finally {
      await h.close();
    }
  });

  it("a request budget nearing its daily or window limit is announced before the CRM refuses anything", async () => {
    let clock = Date.parse("2026-12-07T10:00:00.000Z");
    const budget = createRequestBudget({
      window: { max: 100, windowMs: 10_000 },
      daily: 1000,
      now: () => clock,
    });
    const h = harness({ usage: () => budget.snapshot() });
    try {
      // 79 % of the window and far from the day: nothing yet.
      for (let i = 0; i < 79; i++) budget.take();
      await h.loop.tick();
      expect(h.sent).toEqual([]);
      // The CRM reports its own count (other clients of the account): 85 of 100, and 810 of 1000 today.
      budget.observe({ window: { max: 100, remaining: 15 }, daily: { max: 1000, used: 810 } });
      await h.loop.tick();
      await h.loop.tick();
      expect(h.sent.map((s) => s.notice.data)).toEqual([
        { destination: "crm", limit: "day", used: 810, max: 1000 },
        { destination: "crm", limit: "window", used: 85, max: 100 },
      ]);
      // The window empties and fills again within the hour: no second window notice; the day's stays once.
      clock += 20_000;
      h.advance(20_000);
      budget.observe({ window: { max: 100, remaining: 5 } });
      await h.loop.tick();
      expect(h.sent).toHaveLength(2);
    } finally {
      await h.close();
    }
  });

  it("a spent daily allocation is not probed before its reset, then resumes by itself", async () => {
    const h = harness();
    try {
      const reset = new Date(h.at().getTime() + 3_600_000).toISOString();
      await h.park({
        reason: "daily API budget spent",
        admin_hint: "-",
        by: "worker",
        cause: "quota",
        resume_after: reset,
      });
      // The check would pass (credentials are fine), but the day is still spent.
      for (let i = 0; i < 5; i++) {
        h.advance(600_000);
        await h.loop.tick();
      }
      expect(h.checks()).toBe(0);
      expect(await h.queue.state.getPark()).toBeDefined();
      expect(h.sent[0]?.notice.data).toMatchObject({
        cause: "quota",
        auto_resume: true,
        resume_after: reset,
      });
      h.advance(600_001);
      await h.loop.tick();
      expect(h.checks()).toBe(1);
      expect(await h.queue.state.getPark()).toBeUndefined();
    } finally {
      await h.close();
    }
  });

  it("a notice the channel did not take is sent again on the next look", async () => {
    const h = harness({ failSends: 1 });
    try {
      await h.park({ reason: "503", admin_hint: "-", by: "worker", cause: "config" });
      await h.loop.tick();
      expect(h.sent).toEqual([]);
      await h.loop.tick();
      expect(h.sent.map((s) => s.notice.type)).toEqual(["destination.parked"]);
    } finally {
      await h.close();
    }
  });
});
