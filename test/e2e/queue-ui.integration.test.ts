import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  PIPELINE_API_KEYS,
  startFakeServer,
  startPipeline,
  uniqueName,
  waitFor,
  type FakeServer,
  type Pipeline,
} from "@handoff-sync/testing";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = `${repoRoot}test-results/queue-ui.png`;

/** The queue UI in real headless Chromium, against the api service running as a child process. */
describe("queue UI (bull-board behind the login form)", () => {
  let pipeline: Pipeline;
  let receiver: FakeServer;
  let browser: Browser;
  let deadLetterId: string;

  beforeAll(async () => {
    // Debian's chromium, installed once by the project's own script (1-3 min on a fresh machine).
    await run("bash", [`${repoRoot}scripts/ensure-chromium.sh`], {
      timeout: 10 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    // A receiver that refuses every record: the delivery is dead-lettered at once.
    receiver = await startFakeServer(() => ({ status: 422, body: { error: "unknown customer" } }));
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      receiverUrl: `${receiver.url}/hooks`,
    });
    const sharedId = uniqueName("ui");
    await pipeline.produce([
      {
        schema_version: 1,
        event_id: randomUUID(),
        id: `conv-${sharedId}`,
        shared_id: sharedId,
        state: "handoff_initiated",
        occurred_at: new Date().toISOString(),
        data: {},
      },
    ]);
    deadLetterId = await waitFor(
      async () => {
        const body = (await (
          await pipeline.api(`/admin/v1/destinations/crm/dead-letters?key=${sharedId}`, { scope: "read" })
        ).json()) as { entries: { id: string }[] };
        return body.entries[0]?.id;
      },
      { timeoutMs: 30_000, message: "dead-lettered" },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
      ],
    });
  }, 12 * 60_000);

  afterAll(async () => {
    await browser?.close();
    await pipeline?.stop();
    await receiver?.close();
  });

  it("sends a visitor without a session to the login form", async () => {
    const page = await fetch(`${pipeline.apiUrl}/admin/queues`, { redirect: "manual" });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/admin/login");
    const api = await fetch(`${pipeline.apiUrl}/admin/queues/api/queues`);
    expect(api.status).toBe(401);
    const wrong = await fetch(`${pipeline.apiUrl}/admin/login`, {
      method: "POST",
      body: new URLSearchParams({ api_key: "not-a-key-0123456789" }),
      redirect: "manual",
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
  });

  it("logs in through the form and lists every destination queue and the dead-lettered job", async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(`${pipeline.apiUrl}/admin/queues`);
      expect(new URL(page.url()).pathname).toBe("/admin/login");
      await page.fill("#api_key", PIPELINE_API_KEYS.read);
      await Promise.all([page.waitForURL(/\/admin\/queues/), page.click("button[type=submit]")]);

      const [cookie] = await context.cookies();
      expect(cookie).toMatchObject({
        name: "hs_session",
        httpOnly: true,
        sameSite: "Strict",
        path: "/admin",
      });

      for (const queue of ["deliver-crm", "dead-crm"])
        await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 30_000 });

      await page.goto(`${pipeline.apiUrl}/admin/queues/queue/dead-crm?status=waiting`);
      await page.getByText(deadLetterId).first().waitFor({ timeout: 30_000 });
      const text = await page.locator("body").innerText();
      expect(text).toContain("deliver-crm");
      expect(text).toContain("dead-crm");
      expect(text).toContain(deadLetterId);
      await mkdir(`${repoRoot}test-results`, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // Read-only: the UI's own API refuses changes even with a valid session.
      const pause = await page.request.put(`${pipeline.apiUrl}/admin/queues/api/queues/dead-crm/pause`);
      expect(pause.ok()).toBe(false);
      const overview = (await (await pipeline.api("/admin/v1/destinations", { scope: "read" })).json()) as {
        destinations: { destination: string; dead_lettered: number }[];
      };
      expect(overview.destinations).toMatchObject([{ destination: "crm", dead_lettered: 1 }]);
    } finally {
      await context.close();
    }
  });
});
