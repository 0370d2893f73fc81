import { once } from "node:events";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createWebhookAdapter, type Adapter, type ResolvedDestination } from "@handoff-sync/adapters";
import { AuthError, RetryableDeliveryError } from "@handoff-sync/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../cli.js";
import type { CliContext } from "../command.js";
import { exitCodeOf, type CheckOutcome } from "./destinations-check.js";

let dir: string;
let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(404).end());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
  dir = await mkdtemp(join(tmpdir(), "hs-cli-check-"));
  await writeFile(
    join(dir, "destinations.yaml"),
    `version: 1
destinations:
  up:
    type: webhook
    url: http://127.0.0.1:${port}/hooks
    secret: env:S
    allow_private_network: true
  down:
    type: webhook
    url: http://127.0.0.1:1/hooks
    secret: env:S
    allow_private_network: true
    timeout_ms: 1000
`,
  );
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, "close");
});

/** Stands in for a CRM adapter: `refused` answers like a CRM rejecting the credentials. */
function createAdapter(name: string, destination: ResolvedDestination): Adapter {
  return createWebhookAdapter(name, destination as Extract<ResolvedDestination, { type: "webhook" }>);
}

function context(overrides: Partial<CliContext> = {}): CliContext {
  let clock = 0;
  return { env: { S: "secret" }, cwd: dir, now: () => (clock += 5), createAdapter, ...overrides };
}

describe("destinations check", () => {
  it("reports each destination: a webhook answering 404 is reachable, a closed port is not (exit 3)", async () => {
    const result = await runCli(["destinations", "check", "--config", "destinations.yaml"], context());
    expect(result.exitCode).toBe(3);
    const [header, up, down] = result.stdout.split("\n");
    expect(header).toMatch(/^DESTINATION\s+TYPE\s+STATUS\s+TIME\s+DETAIL$/);
    expect(up).toMatch(/^up\s+webhook\s+OK\s+\d+ms\s+reachable \(webhooks have no credentials to test\)$/);
    expect(down).toMatch(
      /^down\s+webhook\s+UNREACHABLE\s+\d+ms\s+webhook down is not reachable \(network error\)/,
    );
  });

  it("checks only the destinations asked for, and prints JSON", async () => {
    const result = await runCli(
      ["destinations", "check", "--config", "destinations.yaml", "--destination", "up", "--json"],
      context(),
    );
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      {
        destination: "up",
        type: "webhook",
        status: "ok",
        detail: "reachable (webhooks have no credentials to test)",
        ms: 5,
      },
    ]);
  });

  it("reports refused credentials as failed (exit 1) and adapters without a check as skipped", async () => {
    const fake =
      (check: Adapter["check"]): CliContext["createAdapter"] =>
      () => ({
        type: "webhook",
        deliver: () => Promise.reject(new Error("not used")),
        ...(check === undefined ? {} : { check }),
        close: () => Promise.resolve(),
      });
    const failed = await runCli(
      ["destinations", "check", "--config", "destinations.yaml", "--json", "--destination", "up"],
      context({ createAdapter: fake(() => Promise.reject(new AuthError("token request refused (401)"))) }),
    );
    expect(failed.exitCode).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject([
      {
        status: "failed",
        detail: expect.stringMatching(
          /^token request refused \(401\)\. Check the destination's credentials/,
        ) as unknown,
      },
    ]);
    const answered = await runCli(
      ["destinations", "check", "--config", "destinations.yaml", "--json", "--destination", "up"],
      context({
        createAdapter: fake(() =>
          Promise.reject(new RetryableDeliveryError("token endpoint answered 503", { status: 503 })),
        ),
      }),
    );
    // It answered, so it is reachable; that the answer was an error makes it a failure to look at.
    expect(answered.exitCode).toBe(1);
    expect(JSON.parse(answered.stdout)).toMatchObject([
      { status: "failed", detail: "token endpoint answered 503" },
    ]);
    const skipped = await runCli(
      ["destinations", "check", "--config", "destinations.yaml", "--json"],
      context({ createAdapter: fake(undefined) }),
    );
    expect(skipped.exitCode).toBe(0);
    expect(JSON.parse(skipped.stdout)).toMatchObject([{ status: "skipped" }, { status: "skipped" }]);
  });

  it("needs the secrets: a missing one is a config problem", async () => {
    const result = await runCli(
      ["destinations", "check", "--config", "destinations.yaml"],
      context({ env: {} }),
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(
      "destinations.yaml:6: destinations.up.secret: environment variable S is not set",
    );
  });

  it("refuses an unknown destination as a usage error", async () => {
    const result = await runCli(
      ["destinations", "check", "--config", "destinations.yaml", "--destination", "upp"],
      context(),
    );
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('unknown destination "upp"; did you mean "up"?');
  });
});

describe("exitCodeOf", () => {
  const outcome = (status: CheckOutcome["status"]): CheckOutcome => ({
    destination: "d",
    type: "t",
    status,
    detail: "",
    ms: 0,
  });
  it.each([
    [["ok", "skipped"], 0],
    [["ok", "unreachable"], 3],
    [["unreachable", "failed"], 1],
    [[], 0],
  ] as const)("%j -> %i", (statuses, code) => {
    expect(exitCodeOf(statuses.map(outcome))).toBe(code);
  });
});
