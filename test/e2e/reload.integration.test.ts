import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import {
  startFakeServer,
  startPipeline,
  uniqueName,
  waitFor,
  type FakeServer,
  type Pipeline,
  type ServiceName,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

function event(sharedId: string, at: string) {
  return {
    event_id: randomUUID(),
    id: randomUUID(),
    shared_id: sharedId,
    state: "handoff_initiated",
    occurred_at: at,
    data: { customer_id: "12345" },
  };
}

interface Hook {
  readonly key: string;
  readonly version: number;
}

describe("configuration reload: SIGHUP applies a valid file, refuses an invalid one", () => {
  let pipeline: Pipeline;
  let second: FakeServer;
  const secondReceived: Hook[] = [];
  /** The file as the pipeline wrote it, before any test changed it. */
  let initialConfig = "";

  beforeAll(async () => {
    second = await startFakeServer((request) => {
      const body = request.body as { data?: Hook } | undefined;
      if (body?.data !== undefined) secondReceived.push({ key: body.data.key, version: body.data.version });
      return { status: 204 };
    });
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
    });
    initialConfig = await readFile(pipeline.configPath, "utf8");
  });
  afterAll(async () => {
    await pipeline?.stop();
    await second?.close();
  });

  const linesOf = (name: ServiceName): string[] => pipeline.services.get(name)?.lines ?? [];
  const signal = (name: ServiceName): void => {
    pipeline.services.get(name)?.process.kill("SIGHUP");
  };
  const count = (name: ServiceName, message: string): number =>
    linesOf(name).filter((line) => line.includes(`"msg":"${message}`)).length;

  it("routes new events to a second receiver after SIGHUP, and keeps that config when the next file is invalid", async () => {
    const first = uniqueName("before");
    await pipeline.produce([event(first, "2026-11-25T10:00:00.000Z")]);
    await waitFor(async () => (await pipeline.deliveries()).some((d) => d.key === first), {
      message: "delivered before the reload",
    });

    const original = await readFile(pipeline.configPath, "utf8");
    const reloadedBefore = {
      consumer: count("consumer", "configuration reloaded"),
      worker: count("worker", "configuration reloaded"),
    };
    await writeFile(
      pipeline.configPath,
      [
        original.trimEnd(),
        "  second:",
        "    type: webhook",
        `    url: ${second.url}/hooks`,
        "    secret: env:DEMO_WEBHOOK_SECRET",
        "    allow_private_network: true",
        "    retry:",
        "      attempts: 5",
        "      base_delay_ms: 200",
        "      max_delay_ms: 2000",
        "routes:",
        "  - destinations: [second]",
        "",
      ].join("\n"),
    );
    signal("consumer");
    signal("worker");
    // The watcher logs "configuration reloaded" once the service has applied the new config.
    await waitFor(
      () =>
        count("consumer", "configuration reloaded") > reloadedBefore.consumer &&
        count("worker", "configuration reloaded") > reloadedBefore.worker,
      {
        message: "both services reloaded",
      },
    );
    expect(count("consumer", "consumer configuration applied")).toBeGreaterThanOrEqual(1);
    expect(linesOf("worker").some((line) => line.includes('"added":["second"]'))).toBe(true);

    const after = uniqueName("after");
    await pipeline.produce([event(after, "2026-11-25T10:05:00.000Z")]);
    await waitFor(() => secondReceived.some((hook) => hook.key === after), {
      message: "delivered to the second receiver",
    });
    expect((await pipeline.deliveries()).some((d) => d.key === after)).toBe(false);

    // An invalid file: a typo and a missing secret. Every problem is logged, the services keep running.
    await writeFile(
      pipeline.configPath,
      original
        .replace("    timeout_ms: 5000", "    timeout_ms: 5000\n    concurency: 2")
        .replace("secret: env:DEMO_WEBHOOK_SECRET", "secret: env:NOT_SET_ANYWHERE"),
    );
    signal("consumer");
    signal("worker");
    await waitFor(
      () =>
        count("consumer", "configuration reload refused") >= 1 &&
        count("worker", "configuration reload refused") >= 1,
      { message: "both refused" },
    );
    for (const name of ["consumer", "worker"] as const) {
      const refused = linesOf(name).find((line) => line.includes('"msg":"configuration reload refused'));
      const problems = (JSON.parse(refused ?? "{}") as { problems?: string[] }).problems ?? [];
      expect(problems.some((p) => p.includes("destinations.crm.concurency"))).toBe(true);
      expect(problems.length).toBeGreaterThanOrEqual(1);
      expect(pipeline.services.get(name)?.process.exitCode).toBeNull();
      expect((await fetch(`http://127.0.0.1:${pipeline.services.get(name)?.port}/readyz`)).status).toBe(200);
    }

    // The old config (route to the second receiver) is still in force.
    const still = uniqueName("still");
    await pipeline.produce([event(still, "2026-11-25T10:10:00.000Z")]);
    await waitFor(() => secondReceived.some((hook) => hook.key === still), {
      message: "still routed to the second receiver",
    });
    expect((await pipeline.deliveries()).some((d) => d.key === still)).toBe(false);
  });

  it("refuses a reloaded file whose secrets point at a file outside the secret directories or at the services' own credentials", async () => {
    const refusedBefore = count("worker", "configuration reload refused");
    // /etc/hostname stands for any file the worker can read (a service-account token, a key).
    await writeFile(
      pipeline.configPath,
      `${initialConfig.trimEnd()}\n  leak:\n    type: webhook\n    url: https://collector.example.com/hooks\n    secret: [file:/etc/hostname, env:REDIS_URL]\n`,
    );
    signal("worker");
    await waitFor(() => count("worker", "configuration reload refused") > refusedBefore, {
      message: "the worker refused the file",
    });
    const refused = linesOf("worker")
      .filter((line) => line.includes('"msg":"configuration reload refused'))
      .at(-1);
    const problems = (JSON.parse(refused ?? "{}") as { problems?: string[] }).problems ?? [];
    expect(problems).toEqual([
      expect.stringMatching(
        /destinations\.leak\.secret\.0: secret file \/etc\/hostname is outside the secret directories .*HANDOFF_SECRETS_DIRS/,
      ),
      expect.stringMatching(
        /destinations\.leak\.secret\.1: env:REDIS_URL is one of the service's own credentials/,
      ),
    ]);
    expect(linesOf("worker").some((line) => line.includes('"added":["leak"]'))).toBe(false);
  });
});
