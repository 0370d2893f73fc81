import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  PIPELINE_API_KEYS,
  startFakeServer,
  startPipeline,
  startService,
  uniqueName,
  waitFor,
  type FakeServer,
  type Pipeline,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

function event(fields: {
  shared_id: string;
  state: string;
  data?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    schema_version: 1,
    event_id: randomUUID(),
    id: `conv-${fields.shared_id}`,
    shared_id: fields.shared_id,
    state: fields.state,
    occurred_at: new Date().toISOString(),
    data: fields.data ?? { customer_id: "42" },
  };
}

interface RejectedRecord {
  partition: number;
  offset: string;
  reason: string | null;
  key: string | null;
  value_preview: string;
  source: { topic: string | null };
}

/** The api service as production runs it (a child process from dist), beside the consumer and worker. */
describe("api service (child process, real Kafka and Redis)", () => {
  let pipeline: Pipeline;
  let receiver: FakeServer;

  beforeAll(async () => {
    receiver = await startFakeServer(() => ({ status: 204 }));
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      receiverUrl: `${receiver.url}/hooks`,
    });
  });
  afterAll(async () => {
    await pipeline.stop();
    await receiver.close();
  });

  it("answers the seed-compatible endpoint and the delivery status over HTTP", async () => {
    const sharedId = uniqueName("svc");
    await pipeline.produce([event({ shared_id: sharedId, state: "handoff_initiated" })]);
    const status = await waitFor(
      async () => {
        const response = await pipeline.api(`/v1/handoffs?shared_id=${sharedId}`, { scope: "read" });
        if (!response.ok) return undefined;
        const body = (await response.json()) as { deliveries: { destination: string; status: string }[] };
        return body.deliveries[0]?.status === "delivered" ? body : undefined;
      },
      { timeoutMs: 30_000, message: "delivered" },
    );
    expect(status.deliveries).toMatchObject([
      { destination: "crm", status: "delivered", up_to_date: true, delivered: { version: 1 } },
    ]);
    const seed = await pipeline.api(`/v1/acme/support/handoff_state?shared_id=${sharedId}`, {
      scope: "read",
    });
    expect(await seed.json()).toEqual({
      id: `conv-${sharedId}`,
      shared_id: sharedId,
      data: { customer_id: "42" },
    });
    const anonymous = await fetch(`${pipeline.apiUrl}/v1/acme/support/handoff_state?shared_id=${sharedId}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  it("reports consumer lag per partition", async () => {
    const lag = await waitFor(
      async () => {
        const body = (await (await pipeline.api("/admin/v1/consumer-lag", { scope: "read" })).json()) as {
          total_lag: number;
          partitions: { partition: number; lag: number }[];
          group_id: string;
        };
        return body.partitions.length === 3 && body.total_lag === 0 ? body : undefined;
      },
      { timeoutMs: 30_000, message: "lag reported and caught up" },
    );
    expect(lag.group_id).toBe(pipeline.groupId);
    expect(lag.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
  });

  it("lists rejected events with their reasons and re-sends one after a config fix", async () => {
    const sharedId = uniqueName("rejected");
    await pipeline.produceRaw(["{not json"]);
    await pipeline.produce([event({ shared_id: sharedId, state: "complaint_escalation" })]);
    const page = await waitFor(
      async () => {
        const body = (await (
          await pipeline.api("/admin/v1/rejected?limit=50", { scope: "read" })
        ).json()) as { records: RejectedRecord[] };
        return body.records.some((r) => r.key === sharedId) ? body : undefined;
      },
      { timeoutMs: 30_000, message: "both rejected" },
    );
    const invalid = page.records.find((r) => r.reason === "invalid_json");
    expect(invalid).toMatchObject({ value_preview: "{not json", source: { topic: pipeline.topic } });
    const unknown = page.records.find((r) => r.key === sharedId);
    expect(unknown).toMatchObject({ reason: "unknown_state" });
    if (!unknown) throw new Error("unreachable");
    const onlyUnknown = (await (
      await pipeline.api("/admin/v1/rejected?reason=unknown_state", { scope: "read" })
    ).json()) as { records: RejectedRecord[] };
    expect(onlyUnknown.records.every((r) => r.reason === "unknown_state")).toBe(true);

    // The fix: declare the state, and restart the consumer with the new config.
    const config = await readFile(pipeline.configPath, "utf8");
    await writeFile(
      pipeline.configPath,
      config.replace(
        "  customer_refund: initiated\n",
        "  customer_refund: initiated\n  complaint_escalation: initiated\n",
      ),
    );
    await pipeline.services.get("consumer")?.stop();
    await pipeline.start("consumer");

    const ref = { partition: unknown.partition, offset: unknown.offset };
    expect(
      (
        await pipeline.api("/admin/v1/rejected/resend", {
          scope: "read",
          method: "POST",
          body: JSON.stringify({ records: [ref] }),
        })
      ).status,
    ).toBe(403);
    const dry = await (
      await pipeline.api("/admin/v1/rejected/resend", {
        scope: "operate",
        method: "POST",
        body: JSON.stringify({ records: [ref], dry_run: true }),
      })
    ).json();
    expect(dry).toMatchObject({
      dry_run: true,
      items: [{ ...ref, action: "would_resend", topic: pipeline.topic }],
    });
    const resent = await (
      await pipeline.api("/admin/v1/rejected/resend", {
        scope: "operate",
        method: "POST",
        body: JSON.stringify({ records: [ref] }),
      })
    ).json();
    expect(resent).toMatchObject({
      dry_run: false,
      items: [{ ...ref, action: "resent", topic: pipeline.topic }],
    });

    const handoff = await waitFor(
      async () => {
        const response = await pipeline.api(`/v1/handoffs?shared_id=${sharedId}`, { scope: "read" });
        return response.ok ? ((await response.json()) as { state: string }) : undefined;
      },
      { timeoutMs: 60_000, message: "re-sent event applied" },
    );
    expect(handoff.state).toBe("complaint_escalation");

    // The mutating call is audited in the service's own log, with the key's name and never the key.
    const api = pipeline.services.get("api");
    const auditLine = await waitFor(
      () =>
        api?.lines.find(
          (line) => line.includes('"action":"rejected.resend"') && line.includes('"outcome":"ok"'),
        ),
      { message: "audit log line" },
    );
    expect(auditLine).toContain('"actor":"pipeline-operate"');
    for (const key of Object.values(PIPELINE_API_KEYS)) expect(api?.lines.join("\n")).not.toContain(key);
    // Two waits and a consumer restart: under a loaded CI machine they outlast the default timeout.
  }, 180_000);

  it("ends queue UI sessions and refuses a key once it is removed from HANDOFF_API_KEYS_FILE, without a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hs-api-keys-"));
    const keysFile = join(dir, "api-keys");
    const sre = "sre-oncall-key-0123456789abcdef";
    const screenpop = "screenpop-key-0123456789abcdef";
    await writeFile(keysFile, `sre-oncall read+operate ${sre}\nscreenpop read ${screenpop}\n`);
    // A long poll interval: the reload this test sees is the one SIGHUP asks for.
    const api = await startService(
      "api",
      {
        ...pipeline.env,
        HANDOFF_API_KEYS: "",
        HANDOFF_API_KEYS_FILE: keysFile,
        HANDOFF_API_KEYS_RELOAD_INTERVAL_MS: "3600000",
      },
      { port: await freePort() },
    );
    try {
      const url = `http://127.0.0.1:${api.port}`;
      const login = await fetch(`${url}/admin/login`, {
        method: "POST",
        body: new URLSearchParams({ api_key: sre }),
        redirect: "manual",
      });
      expect(login.status).toBe(303);
      const cookie = /hs_session=[^;]+/.exec(login.headers.get("set-cookie") ?? "")?.[0] ?? "";
      const queues = () => fetch(`${url}/admin/queues/api/queues`, { headers: { cookie } });
      expect((await queues()).status).toBe(200);

      await writeFile(keysFile, `screenpop read ${screenpop}\n`);
      api.process.kill("SIGHUP");
      await waitFor(async () => (await queues()).status === 401, {
        timeoutMs: 10_000,
        message: "the removed key's session ends",
      });
      expect((await fetch(`${url}/admin/v1/destinations`, { headers: { "x-api-key": sre } })).status).toBe(
        401,
      );
      expect(
        (await fetch(`${url}/admin/v1/destinations`, { headers: { "x-api-key": screenpop } })).status,
      ).toBe(200);
      // Log lines leave in batches (within 100 ms, decision 0022).
      await waitFor(
        () =>
          api.lines.some((line) =>
            line.includes("queue UI session ended: its API key is no longer configured"),
          ),
        { timeoutMs: 5_000, message: "the session's end logged" },
      );
    } finally {
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("exposes request metrics", async () => {
    // Its own request, so this test does not depend on an earlier one having passed.
    expect((await pipeline.api("/admin/v1/destinations", { scope: "read" })).status).toBe(200);
    const text = await (await fetch(`${pipeline.apiUrl}/metrics`)).text();
    expect(text).toMatch(
      /handoff_sync_api_requests_total\{[^}]*route="\/admin\/v1\/destinations"[^}]*status="200"[^}]*\} \d+/,
    );
  });
});
