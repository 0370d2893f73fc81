import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cliAdapterFactory } from "../adapters.js";
import { runCli } from "../cli.js";
import type { CliContext } from "../command.js";

const NOW = Date.parse("2026-01-15T09:30:00.000Z");

let dir: string;
let context: CliContext;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hs-cli-preview-"));
  // The secret is never read: preview must work on a laptop that holds none.
  context = { env: {}, cwd: dir, now: () => NOW, createAdapter: cliAdapterFactory(() => NOW) };
  await writeFile(
    join(dir, "destinations.yaml"),
    `version: 1
states:
  customer_refund: initiated
destinations:
  support-crm:
    type: webhook
    url: https://crm.example.com/hooks/handoff
    secret: [env:CRM_SECRET, env:CRM_OLD_SECRET]
  callback:
    type: webhook
    url: https://callbacks.example.com/hooks
    secret: env:CALLBACK_SECRET
routes:
  - destinations: [support-crm]
    on_failed: [callback]
`,
  );
  await writeFile(
    join(dir, "event.json"),
    JSON.stringify({
      event_id: "evt-1",
      id: "conv-8841",
      shared_id: "case-0042",
      state: "customer_refund",
      occurred_at: "2026-01-15T09:29:58Z",
      channel: "voice",
      destination: "billing_queue",
      reason: "refund_request",
      data: { customer_id: "C-1001", verified: true },
    }),
  );
  await writeFile(
    join(dir, "failed.json"),
    JSON.stringify([
      { event_id: "evt-1", id: "conv-9", state: "handoff_initiated", occurred_at: "2026-01-15T09:00:00Z" },
      {
        event_id: "evt-2",
        id: "conv-9",
        state: "handoff_failed",
        occurred_at: "2026-01-15T09:01:00Z",
        data: { why: "no agent" },
      },
    ]),
  );
  await writeFile(
    join(dir, "unknown-state.json"),
    JSON.stringify({ event_id: "e", id: "c", state: "nope", occurred_at: "2026-01-15T09:00:00Z" }),
  );
  await writeFile(join(dir, "invalid.json"), JSON.stringify({ id: "c", state: "handoff_initiated" }));
  await writeFile(join(dir, "not-json.json"), "{");
});

const run = (...args: string[]) => runCli(["preview", "--config", "destinations.yaml", ...args], context);

describe("preview", () => {
  it("prints the exact webhook request for an event, secrets masked", async () => {
    const result = await run("--event", "event.json", "--destination", "support-crm");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatchInlineSnapshot(`
      "Handoff case-0042 (version 1, state customer_refund, stage initiated) to support-crm (webhook).
      Routing: the routes send this event to support-crm.
      Nothing was sent; secrets are masked.

      --- request 1 of 1 ---
      POST https://crm.example.com/hooks/handoff
      content-type: application/json
      user-agent: handoff-sync/0.1
      webhook-id: msg_bXxeZ7FSzD9Eohk4mH5kqA4XFQuw1F8v
      webhook-timestamp: 1768469400
      webhook-signature: v1,**** v1,****

      {
        "type": "handoff.updated",
        "timestamp": "2026-01-15T09:29:58Z",
        "data": {
          "key": "case-0042",
          "id": "conv-8841",
          "shared_id": "case-0042",
          "state": "customer_refund",
          "stage": "initiated",
          "version": 1,
          "occurred_at": "2026-01-15T09:29:58Z",
          "data": {
            "customer_id": "C-1001",
            "verified": true
          },
          "channel": "voice",
          "destination": "billing_queue",
          "reason": "refund_request"
        }
      }
      "
    `);
  });

  it("prints JSON with the body exactly as sent", async () => {
    const result = await run("--event", "event.json", "--destination", "support-crm", "--json");
    const output = JSON.parse(result.stdout) as {
      requests: { body: string; headers: Record<string, string> }[];
    };
    expect(output).toMatchObject({
      handoff: { key: "case-0042", version: 1, state: "customer_refund", stage: "initiated" },
      destination: { name: "support-crm", type: "webhook" },
      routed: true,
      routed_to: ["support-crm"],
    });
    expect(output.requests[0]?.body).not.toContain("\n");
    expect(output.requests[0]?.headers["webhook-signature"]).toBe("v1,**** v1,****");
  });

  it("applies a list of events in order and shows the on_failed fallback is routed", async () => {
    const result = await run("--event", "failed.json", "--destination", "callback", "--json");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      handoff: { key: "conv-9", version: 2, state: "handoff_failed", stage: "failed" },
      routed: true,
      routed_to: ["support-crm", "callback"],
    });
  });

  it("says so when the routes would not send the event to the destination", async () => {
    const result = await run("--event", "event.json", "--destination", "callback");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(
      "Routing: the routes do not send this event to callback (they send it to: support-crm); shown anyway.",
    );
  });

  it.each([
    [
      "unknown-state.json",
      'unknown-state.json: unknown state "nope": declare it under "states" in the destinations file',
    ],
    ["invalid.json", "invalid.json: not a valid handoff event: "],
    ["not-json.json", "not-json.json: not JSON ("],
    ["absent.json", "absent.json: cannot read file (ENOENT)"],
  ])("refuses %s with exit code 1", async (file, message) => {
    const result = await run("--event", file, "--destination", "support-crm");
    expect(result.exitCode).toBe(1);
    expect(result.stdout.startsWith(message)).toBe(true);
  });

  it.each([
    [["--event", "event.json"], "--destination NAME is required"],
    [["--destination", "support-crm"], "--event FILE is required"],
    [
      ["--event", "event.json", "--destination", "support-crn"],
      'unknown destination "support-crn"; did you mean "support-crm"? (the file declares: support-crm, callback)',
    ],
    [["--event", "event.json", "--destination", "support-crm", "--verbose"], "Unknown option '--verbose'"],
  ])("is a usage error: %j", async (args, message) => {
    const result = await run(...args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("usage: handoff-sync preview --event FILE --destination NAME");
  });

  it("needs a config file", async () => {
    const result = await runCli(["preview", "--event", "event.json", "--destination", "x"], context);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("give --config FILE or set HANDOFF_SYNC_CONFIG");
  });
});

describe("preview of a batched destination", () => {
  beforeAll(async () => {
    await writeFile(
      join(dir, "batched.yaml"),
      `version: 1
states:
  customer_refund: initiated
destinations:
  hubspot:
    type: hubspot
    auth: { method: private_app, token: env:HUBSPOT_TOKEN }
    batch: { max_size: 50, max_wait_ms: 150 }
  hubspot-single:
    type: hubspot
    auth: { method: private_app, token: env:HUBSPOT_TOKEN }
routes:
  - destinations: [hubspot, hubspot-single]
`,
    );
  });
  const batched = (...args: string[]) =>
    runCli(["preview", "--config", "batched.yaml", "--event", "event.json", ...args], context);

  it("shows the batch request the delivery would ride in, and says how it batches", async () => {
    const result = await batched("--destination", "hubspot");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(
      "Batching: this delivery shares one request with up to 49 others, waiting at most 150 ms for them; shown as a batch of one.",
    );
    expect(result.stdout).toContain("one batch upsert by handoff_key for 1 deliveries");
    const json = await batched("--destination", "hubspot", "--json");
    const parsed = JSON.parse(json.stdout) as { batch: unknown; requests: { url: string }[] };
    expect(parsed.batch).toEqual({ max_size: 50, max_wait_ms: 150 });
    expect(parsed.requests[0]?.url).toBe("https://api.hubapi.com/crm/v3/objects/tickets/batch/upsert");
  });

  it("says nothing of batching for a destination without batch", async () => {
    const result = await batched("--destination", "hubspot-single", "--json");
    expect(JSON.parse(result.stdout)).not.toHaveProperty("batch");
    expect((await batched("--destination", "hubspot-single")).stdout).not.toContain("Batching:");
  });
});
