import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { verifyWebhook } from "@handoff-sync/adapters";
import { OperatorNoticeSchema, type OperatorNotice } from "@handoff-sync/queue";
import {
  FAKE_ZENDESK_API_TOKEN,
  startFakeHubSpot,
  startFakeZendesk,
  startPipeline,
  uniqueName,
  waitFor,
  type FakeHubSpot,
  type FakeZendesk,
  type Pipeline,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const OPS_SECRET = "whsec_b3BlcmF0b3Itbm90aWNlcy1zZWNyZXQtZm9yLXRlc3Rz";

/** The CRM admin's channel: verifies every notice's signature as a receiver of deliveries would. */
async function startChannel(): Promise<{
  server: Server;
  url: string;
  notices: OperatorNotice[];
  ids: string[];
}> {
  const notices: OperatorNotice[] = [];
  const ids: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        verifyWebhook({ headers: req.headers, body, secrets: [OPS_SECRET] });
        notices.push(OperatorNoticeSchema.parse(JSON.parse(body)));
        ids.push(String(req.headers["webhook-id"]));
        res.writeHead(204).end();
      } catch {
        res.writeHead(401).end();
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ops`, notices, ids };
}

/** Posts a `handoff_initiated` event for conversation `id` through HTTP ingestion; Kafka took it (202). */
async function initiate(pipeline: Pipeline, id: string): Promise<void> {
  const response = await pipeline.api("/v1/ingest/events", {
    scope: "ingest",
    method: "POST",
    body: JSON.stringify({
      schema_version: 1,
      event_id: uniqueName("e"),
      id,
      state: "handoff_initiated",
      occurred_at: new Date().toISOString(),
      data: { customer_id: "12345" },
    }),
  });
  expect(response.status).toBe(202);
}

describe("operator loop: a destination whose credentials are fixed resumes by itself", () => {
  let pipeline: Pipeline;
  let zendesk: FakeZendesk;
  let channel: Awaited<ReturnType<typeof startChannel>>;

  beforeAll(async () => {
    zendesk = await startFakeZendesk();
    channel = await startChannel();
    // The CRM admin deactivated the token handoff-sync uses: every request is refused (401).
    zendesk.setApiTokenActive(FAKE_ZENDESK_API_TOKEN.token, false);
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      destinationsYaml: [
        "  helpdesk:",
        "    type: zendesk",
        `    url: ${zendesk.url}`,
        "    allow_private_network: true",
        "    auth:",
        "      method: api_token",
        `      email: ${FAKE_ZENDESK_API_TOKEN.email}`,
        "      api_token: env:ZENDESK_API_TOKEN",
        "    retry:",
        "      attempts: 5",
        "      base_delay_ms: 100",
        "      max_delay_ms: 500",
      ].join("\n"),
      statesYaml: [
        "operator:",
        "  webhook:",
        `    url: ${channel.url}`,
        "    secret: env:OPS_WEBHOOK_SECRET",
        "  watch_interval_ms: 300",
        "  probe_interval_ms: 1000",
      ].join("\n"),
      env: { ZENDESK_API_TOKEN: FAKE_ZENDESK_API_TOKEN.token, OPS_WEBHOOK_SECRET: OPS_SECRET },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    await zendesk?.close();
    channel?.server.close();
  });

  it("parks on 401, tells the channel, probes, resumes once the token works again, and audits each step", async () => {
    const id = uniqueName("conv");
    await initiate(pipeline, id);

    const parked = await waitFor(() => channel.notices.find((n) => n.type === "destination.parked"), {
      timeoutMs: 30_000,
      message: "parked notice",
    });
    expect(parked.data).toMatchObject({
      destination: "helpdesk",
      cause: "auth",
      by: "worker",
      auto_resume: true,
    });
    // A probe runs and fails while the token is still refused; the destination stays parked.
    const audit = async (): Promise<{ actor: string; action: string; target: string; outcome: string }[]> =>
      (
        (await (await pipeline.api("/admin/v1/audit")).json()) as {
          entries: { actor: string; action: string; target: string; outcome: string }[];
        }
      ).entries;
    await waitFor(
      async () => (await audit()).some((e) => e.action === "destination.probe" && e.outcome === "failed"),
      { timeoutMs: 15_000, message: "a failed probe audited" },
    );
    expect(zendesk.records()).toEqual([]);

    // The CRM admin fixes the credentials on Zendesk's side; nobody touches handoff-sync.
    zendesk.setApiTokenActive(FAKE_ZENDESK_API_TOKEN.token, true);
    const resumed = await waitFor(() => channel.notices.find((n) => n.type === "destination.resumed"), {
      timeoutMs: 30_000,
      message: "resumed notice",
    });
    expect(resumed.data).toMatchObject({
      destination: "helpdesk",
      by: "probe",
      parked_at: parked.data.parked_at,
    });
    await waitFor(() => zendesk.records().some((t) => t.external_id?.includes(id) === true), {
      timeoutMs: 30_000,
      message: "ticket created after the resume",
    });
    const steps = (await audit())
      .filter((e) => e.target === "helpdesk")
      .map((e) => `${e.actor} ${e.action} ${e.outcome}`);
    expect(steps).toEqual(
      expect.arrayContaining([
        "probe destination.probe failed",
        "probe destination.probe ok",
        "probe destination.resume ok",
      ]),
    );
    // Each notice once, however many worker looks saw the park.
    expect(channel.notices.filter((n) => n.type === "destination.parked")).toHaveLength(1);
    expect(new Set(channel.ids).size).toBe(channel.ids.length);
    // And the worker's log has a line for each.
    const lines = pipeline.services.get("worker")?.lines ?? [];
    expect(lines.filter((l) => l.includes('"operator notice"')).length).toBeGreaterThanOrEqual(2);
  });
});

describe("operator loop: a destination nearing its daily API limit is announced before the CRM refuses", () => {
  let pipeline: Pipeline;
  let hubspot: FakeHubSpot;
  let channel: Awaited<ReturnType<typeof startChannel>>;

  beforeAll(async () => {
    // HubSpot reports the account's daily figure in X-HubSpot-RateLimit-Daily(-Remaining); no budget is configured.
    hubspot = await startFakeHubSpot({ rateLimits: { daily: 10 } });
    channel = await startChannel();
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      destinationsYaml: [
        "  tickets:",
        "    type: hubspot",
        `    base_url: ${hubspot.url}`,
        "    allow_private_network: true",
        "    auth: { method: private_app, token: env:HUBSPOT_TOKEN }",
      ].join("\n"),
      statesYaml: [
        "operator:",
        "  webhook:",
        `    url: ${channel.url}`,
        "    secret: env:OPS_WEBHOOK_SECRET",
        "  watch_interval_ms: 300",
        "  quota_warning_share: 0.8",
      ].join("\n"),
      env: { HUBSPOT_TOKEN: "pat-na1-fake", OPS_WEBHOOK_SECRET: OPS_SECRET },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    await hubspot?.close();
    channel?.server.close();
  });

  it("sends destination.quota_near with the day's usage once 80 % of it is used, and nothing at 70 %", async () => {
    // Every request HubSpot answered counts against its day (the fake, as HubSpot, counts them all).
    const usedUpTo = async (count: number) => {
      while (hubspot.requests.length < count) {
        const before = hubspot.requests.length;
        await initiate(pipeline, uniqueName("quota"));
        await waitFor(() => hubspot.requests.length > before || undefined, {
          timeoutMs: 30_000,
          message: "the delivery reached HubSpot",
        });
      }
    };
    await usedUpTo(7);
    expect(hubspot.requests.length).toBe(7);
    // Several looks of the worker at 7 of 10 requests: below the share, no notice.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(channel.notices.filter((n) => n.type === "destination.quota_near")).toEqual([]);
    await usedUpTo(8);
    const near = await waitFor(() => channel.notices.find((n) => n.type === "destination.quota_near"), {
      timeoutMs: 15_000,
      message: "quota notice",
    });
    expect(near.data).toMatchObject({ destination: "tickets", limit: "day", used: 8, max: 10 });
    // Once a day, however many looks see it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(channel.notices.filter((n) => n.type === "destination.quota_near")).toHaveLength(1);
  });
});
