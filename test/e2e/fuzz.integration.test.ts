import { webhookBody } from "@handoff-sync/adapters";
import { canonicalJson, decodeHandoffEvent } from "@handoff-sync/ingest";
import {
  applyEvent,
  createStateCatalogue,
  REJECTION_REASONS,
  type RejectionReason,
} from "@handoff-sync/schema";
import { startPipeline, waitFor, type Pipeline } from "@handoff-sync/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

/**
 * Hostile records through the real consumer and worker: each one is delivered or rejected with a
 * reason, the consumer never exits, and a valid event after them all is delivered.
 */

const MAX_MESSAGE_BYTES = 262_144;
const REASON_HEADER = "handoff-sync-reject-reason";

type Expected = "delivered" | RejectionReason | "either";

interface FuzzRecord {
  readonly name: string;
  readonly value: Buffer | null;
  /** The handoff key a delivery carries, when it is delivered. */
  readonly handoffKey: string;
  readonly expected: Expected;
  /** The `data` the CRM should receive, for valid records. */
  readonly data?: unknown;
}

const run = `f${Date.now().toString(36)}`;
const nowIso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

function event(n: string, patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: `${run}-${n}-e`,
    id: `${run}-${n}`,
    state: "handoff_initiated",
    occurred_at: nowIso(-60_000),
    data: { n },
    ...patch,
  };
}

function nestedJson(levels: number): string {
  return `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
}

function json(name: string, value: Record<string, unknown>, expected: Expected): FuzzRecord {
  return {
    name,
    value: Buffer.from(JSON.stringify(value)),
    handoffKey: String(value["shared_id"] ?? value["id"]),
    expected,
    data: value["data"],
  };
}

function text(name: string, n: string, body: string, expected: Expected): FuzzRecord {
  return { name, value: Buffer.from(body), handoffKey: `${run}-${n}`, expected };
}

/** Records at, under and over every limit, and the shapes parsers trip on. */
function craftedRecords(): FuzzRecord[] {
  const head = (n: string) =>
    `"event_id":"${run}-${n}-e","id":"${run}-${n}","state":"handoff_initiated","occurred_at":"${nowIso(-60_000)}"`;
  const keys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]));
  return [
    text("20,000 levels deep", "deep", `{${head("deep")},"data":${nestedJson(20_000)}}`, "too_deep"),
    text("depth 32 (the limit)", "d32", `{${head("d32")},"data":${nestedJson(32)}}`, "delivered"),
    text("depth 33", "d33", `{${head("d33")},"data":${nestedJson(33)}}`, "too_deep"),
    text(
      "deep array",
      "arr",
      `{${head("arr")},"data":{"x":${"[".repeat(5_000)}${"]".repeat(5_000)}}}`,
      "too_deep",
    ),
    json("9,990 keys", event("w1", { data: keys(9_990) }), "delivered"),
    json("10,001 keys", event("w2", { data: keys(10_001) }), "too_complex"),
    json(
      "20,000 array items",
      event("w3", { data: { list: Array.from({ length: 20_000 }, () => 0) } }),
      "too_complex",
    ),
    json("string at the limit", event("s1", { data: { note: "x".repeat(65_536) } }), "delivered"),
    json("string over the limit", event("s2", { data: { note: "x".repeat(65_537) } }), "too_long"),
    json("key over the limit", event("s3", { data: { ["k".repeat(65_537)]: 1 } }), "too_long"),
    text(
      "over max_message_bytes",
      "big",
      `{${head("big")},"data":{"note":"${"y".repeat(MAX_MESSAGE_BYTES + 2_048)}"}}`,
      "oversize",
    ),
    json(
      "__proto__ key in data",
      event("proto", { data: JSON.parse('{"__proto__":{"polluted":1},"safe":true}') as unknown }),
      "schema_violation",
    ),
    json(
      "nested __proto__ key",
      event("proto2", { data: JSON.parse('{"x":{"__proto__":{"polluted":1}}}') as unknown }),
      "schema_violation",
    ),
    json(
      "constructor and prototype keys",
      event("ctor", {
        data: JSON.parse('{"constructor":{"prototype":{"polluted":1}},"prototype":1,"safe":true}') as unknown,
      }),
      "delivered",
    ),
    text("__proto__ at the top", "ptop", `{${head("ptop")},"__proto__":{"polluted":1}}`, "schema_violation"),
    {
      name: "invalid UTF-8",
      value: Buffer.concat([
        Buffer.from(`{${head("utf8")},"data":{"name":"`),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('"}}'),
      ]),
      handoffKey: `${run}-utf8`,
      expected: "invalid_encoding",
    },
    json("NUL in shared_id", event("nul", { shared_id: `${run}-acme\u00009` }), "schema_violation"),
    json("control characters in id", event("ctl", { id: `${run}-ctl\u001b[31m` }), "schema_violation"),
    json("newline in event_id", event("nl", { event_id: `${run}-nl\ne` }), "schema_violation"),
    text("number beyond JSON's range", "inf", `{${head("inf")},"data":{"amount":1e400}}`, "invalid_json"),
    text("bare number beyond range", "inf2", "-1e999", "invalid_json"),
    text("not an object", "arrtop", "[1,2,3]", "schema_violation"),
    text("truncated JSON", "trunc", `{${head("trunc")},"data":{`, "invalid_json"),
    json(
      "occurred_at in year 9999",
      event("y9999", { occurred_at: "9999-12-31T23:59:59.999Z" }),
      "clock_skew",
    ),
    json("occurred_at ten minutes ahead", event("ahead10", { occurred_at: nowIso(600_000) }), "clock_skew"),
    json("occurred_at a minute ahead", event("ahead1", { occurred_at: nowIso(60_000) }), "delivered"),
    json("occurred_at in year 1", event("y1", { occurred_at: "0001-01-01T00:00:00.000Z" }), "delivered"),
    json(
      "occurred_at beyond the calendar",
      event("y1e6", { occurred_at: "+275760-09-13T00:00:00.000Z" }),
      "schema_violation",
    ),
    { name: "tombstone", value: null, handoffKey: `${run}-tomb`, expected: "empty" },
    text(
      "duplicate keys (the last wins)",
      "dupb",
      `{${head("dupa")},"id":"${run}-dupb","data":{"n":"dup"}}`,
      "delivered",
    ),
  ];
}

/** Generated events: odd but valid data (any JSON, unusual keys and strings) must be delivered as sent. */
function generatedRecords(count: number, seed: number): FuzzRecord[] {
  const key = fc.oneof(
    fc.string(),
    fc.constantFrom(
      "__proto__",
      "constructor",
      "prototype",
      "toString",
      "hasOwnProperty",
      "",
      "a.b",
      "$where",
    ),
  );
  const data = fc.dictionary(key, fc.jsonValue({ maxDepth: 4 }), { maxKeys: 8 });
  const identifier = fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 });
  const samples = fc.sample(
    fc.record({
      data,
      suffix: identifier,
      channel: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
    }),
    { numRuns: count, seed },
  );
  return samples.map((sample, index) => {
    const n = `g${index}`;
    const value = event(n, {
      id: `${run}-${n}-${sample.suffix}`,
      data: sample.data,
      ...(sample.channel !== undefined ? { channel: sample.channel } : {}),
    });
    // A generated suffix may hold characters no identifier can; those records must then be rejected.
    return json(`generated ${index}`, value, "either");
  });
}

/** Hostile shapes generated at random: each must end delivered or rejected, never lost or fatal. */
function generatedHostile(count: number, seed: number): FuzzRecord[] {
  const anything = fc.oneof(
    fc.jsonValue({ maxDepth: 40 }).map((value) => JSON.stringify(value)),
    fc.string({ unit: "binary", maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
  );
  return fc.sample(anything, { numRuns: count, seed }).map((body, index) => ({
    name: `hostile ${index}`,
    value: Buffer.from(body, "latin1"),
    handoffKey: `${run}-h${index}`,
    expected: "either",
  }));
}

describe("fuzzed records through the real consumer and worker", () => {
  let pipeline: Pipeline;
  const rejectedByKey = new Map<string, string[]>();
  const stopReading: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      maxMessageBytes: MAX_MESSAGE_BYTES + 1_024,
    });
    const reader = pipeline.kafka.consumer({ groupId: `${pipeline.groupId}-fuzz-reader` });
    await reader.connect();
    await reader.subscribe({ topic: pipeline.rejectedTopic, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const key = message.key?.toString() ?? "";
        const reason = message.headers?.[REASON_HEADER]?.toString() ?? "(none)";
        rejectedByKey.set(key, [...(rejectedByKey.get(key) ?? []), reason]);
        return Promise.resolve();
      },
    });
    stopReading.push(() => reader.disconnect());
  }, 120_000);
  afterAll(async () => {
    for (const stop of stopReading) await stop();
    await pipeline?.stop();
  });

  it("delivers or rejects every record with a reason, keeps the consumer up, and delivers the next valid event", async () => {
    const seed = Number(process.env["FUZZ_SEED"] ?? Date.now() % 2_147_483_647);
    const records = [...craftedRecords(), ...generatedRecords(120, seed), ...generatedHostile(60, seed)];
    const consumer = pipeline.services.get("consumer");
    if (consumer === undefined) throw new Error("consumer not started");
    const pid = consumer.process.pid;
    // Kafka keys name each record so its rejection can be told apart from the others'.
    const kafkaKey = (index: number) => `${run}-record-${index}`;
    for (let start = 0; start < records.length; start += 5) {
      await pipeline.produceRaw(
        records.slice(start, start + 5).map((r) => r.value),
        (index) => kafkaKey(start + index),
      );
    }
    const last = event("after", { data: { after: true } });
    await pipeline.produce([last], () => `${run}-after`);

    const outcome = await waitFor(
      async () => {
        const delivered = new Map((await pipeline.deliveries()).map((d) => [d.key, d]));
        if (!delivered.has(String(last["id"]))) return undefined;
        const settled = records.map((record, index) => ({
          record,
          delivered: delivered.get(record.handoffKey),
          rejected: rejectedByKey.get(kafkaKey(index)) ?? [],
        }));
        return settled.every((s) => s.delivered !== undefined || s.rejected.length > 0) ? settled : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, message: "every fuzzed record delivered or rejected" },
    );

    for (const { record, delivered, rejected } of outcome) {
      const label = `${record.name}: delivered=${delivered !== undefined} rejected=${rejected.join(",")}`;
      // Never both, never twice: a record has one outcome.
      expect(delivered !== undefined && rejected.length > 0, label).toBe(false);
      expect(rejected.length, label).toBeLessThanOrEqual(1);
      for (const reason of rejected) expect(REJECTION_REASONS, label).toContain(reason);
      if (record.expected === "delivered") expect(delivered, label).toBeDefined();
      else if (record.expected !== "either") expect(rejected, label).toEqual([record.expected]);
      if (delivered !== undefined && record.data !== undefined)
        expect(canonicalJson(delivered.data), label).toBe(canonicalJson(record.data));
    }
    // The pipeline never restarts a service by itself: an exit or a new process would be a restart.
    const restarts = consumer.process.exitCode === null && consumer.process.pid === pid ? 0 : 1;
    expect(restarts).toBe(0);
    expect(
      consumer.lines.filter((line) => line.includes('"level":60') || line.includes("consumer crashed")),
    ).toEqual([]);

    const delivered = outcome.filter((o) => o.delivered !== undefined).length;
    const rejected = outcome.filter((o) => o.rejected.length > 0).length;
    console.log(`fuzz seed: ${seed} (FUZZ_SEED=${seed} repeats this run)`);
    console.log(
      `fuzzed: records=${records.length} delivered=${delivered} rejected=${rejected} consumer_restarts=${restarts}`,
    );
  }, 240_000);

  it("changes no prototype when the same records are decoded, merged and turned into CRM payloads", () => {
    const before = [Object.prototype, Array.prototype, Function.prototype].map((proto) =>
      Object.getOwnPropertyNames(proto).sort(),
    );
    const catalogue = createStateCatalogue({});
    for (const record of [...craftedRecords(), ...generatedRecords(200, 7), ...generatedHostile(200, 7)]) {
      const decoded = decodeHandoffEvent(record.value, { maxBytes: MAX_MESSAGE_BYTES, catalogue });
      if (!decoded.ok) continue;
      const applied = applyEvent(undefined, decoded.event, {
        catalogue,
        receivedAt: new Date().toISOString(),
      });
      webhookBody(applied.snapshot);
    }
    const after = [Object.prototype, Array.prototype, Function.prototype].map((proto) =>
      Object.getOwnPropertyNames(proto).sort(),
    );
    expect(after).toEqual(before);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });
});
