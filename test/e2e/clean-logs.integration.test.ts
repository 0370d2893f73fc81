import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  findWarnings,
  startPipeline,
  warmGroupCoordinator,
  waitFor,
  type Pipeline,
  type WarningLine,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Runs the demo's sample producer to completion: the traffic the demo itself sends. */
async function runSampleProducer(
  env: Record<string, string>,
): Promise<{ code: number | null; lines: string[] }> {
  const child = spawn(process.execPath, [`${repoRoot}services/demo-crm/dist/sample-producer.js`], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") lines.push(line);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, lines };
}

describe("clean logs: a healthy run writes nothing at warn level or above", () => {
  let pipeline: Pipeline;
  const samples = 5;

  beforeAll(async () => {
    // On a broker that never had a consumer group, the first one finds its coordinator loading
    // and kafkajs logs that at error level before it retries (docs/local-infra.md): a state of
    // the fresh broker, not of the services, so it is brought about before they start.
    await warmGroupCoordinator(inject("kafkaBrokers"));
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      // The states the sample producer sends, declared as in the demo's destinations file.
      statesYaml: ["  complaint_escalation: initiated", "  successfully_identified: initiated"].join("\n"),
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it("the consumer, worker, api, demo CRM and sample producer stay quiet through traffic and shutdown", async () => {
    const producer = await runSampleProducer({
      ...pipeline.env,
      TOPIC: pipeline.topic,
      SAMPLE_COUNT: String(samples),
      SAMPLE_INTERVAL_MS: "20",
    });
    expect(producer.code, producer.lines.join("\n")).toBe(0);

    // Every sample journey ends at a final state; wait until each has reached the CRM.
    const finals = await waitFor(
      async () => {
        const latest = new Map<string, string>();
        for (const d of await pipeline.deliveries()) latest.set(d.key, d.state);
        const done = [...latest.values()].filter((s) => s === "handoff_completed" || s === "handoff_failed");
        return done.length >= samples ? latest : undefined;
      },
      { timeoutMs: 60_000, message: "every sample handoff delivered at its final state" },
    );
    const [key] = finals.keys();
    const lookup = await pipeline.api(`/v1/handoffs?shared_id=${key ?? ""}`, { scope: "read" });
    expect(lookup.status).toBe(200);
    expect((await pipeline.api("/admin/v1/destinations", { scope: "read" })).status).toBe(200);
    expect((await pipeline.api("/admin/v1/consumer-lag", { scope: "read" })).status).toBe(200);
    expect((await fetch(`${pipeline.apiUrl}/metrics`)).status).toBe(200);

    // Shutdown is part of a healthy run: a SIGTERM must not log warnings either.
    const exits = await Promise.all([...pipeline.services.values()].map((service) => service.stop()));
    expect(exits.every((code) => code === 0)).toBe(true);

    const warnings: WarningLine[] = [
      ...findWarnings("sample-producer", producer.lines),
      ...[...pipeline.services.values()].flatMap((service) => findWarnings(service.name, service.lines)),
    ];
    expect(warnings.map((w) => `${w.source} (${w.why}): ${w.line}`)).toEqual([]);
  });
});
