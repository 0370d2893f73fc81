import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  findWarnings,
  startPipeline,
  startPlainKafka,
  waitFor,
  type Pipeline,
  type PlainKafka,
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
  let kafka: PlainKafka;
  let dir: string;
  const samples = 5;

  beforeAll(async () => {
    // A broker of its own, as new as a fresh machine's: its first consumer group finds the group
    // coordinator still loading, which kafkajs retries after logging it at error level.
    dir = await mkdtemp(join(tmpdir(), "hs-clean-logs-"));
    kafka = await startPlainKafka(dir);
    pipeline = await startPipeline({
      kafkaBrokers: kafka.brokers,
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      // The states the sample producer sends, declared as in the demo's destinations file.
      statesYaml: ["  complaint_escalation: initiated", "  successfully_identified: initiated"].join("\n"),
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    await kafka?.stop();
    await rm(dir, { recursive: true, force: true });
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
