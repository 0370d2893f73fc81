import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deadLetterId, DeadLetterEntrySchema } from "./dead-letter.js";
import { deliveryDedupId, deliveryJobId, parseDeliveryJob } from "./jobs.js";

const job = {
  v: 1,
  key: "acme:42",
  version: 3,
  event_id: "evt-9",
  occurred_at: "2025-01-01T00:00:00Z",
  enqueued_at: "2025-01-01T00:00:01.5+00:00",
};

describe("parseDeliveryJob", () => {
  it("accepts a v1 job and ignores fields added by newer producers", () => {
    expect(parseDeliveryJob({ ...job, traceparent: "00-abc-def-01", priority_hint: "high" })).toEqual({
      ok: true,
      job: { ...job, traceparent: "00-abc-def-01" },
    });
  });

  it("rejects an unknown version and names each problem", () => {
    const result = parseDeliveryJob({ ...job, v: 2, version: 0, key: undefined });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toContain("v: Invalid input: expected 1");
    expect(result.message).toContain("version: Too small");
    expect(result.message).toContain("key: Required");
  });
});

describe("job ids", () => {
  it("are BullMQ-safe and deterministic", () => {
    expect(deliveryJobId("acme:42", 3)).toBe("kacme%3A42.v3");
    expect(deliveryDedupId("acme:42")).toBe("kacme%3A42");
    expect(deadLetterId("acme:42", 3)).toBe("dl.kacme%3A42.v3");
    expect(deliveryJobId("123", 1)).not.toMatch(/^\d+$/);
  });

  it("distinct (key, version) pairs never share a job id", () => {
    const keys = fc.oneof(fc.string(), fc.stringMatching(/^[a-z0-9.v:]*$/));
    const versions = fc.integer({ min: 1, max: 1_000_000 });
    fc.assert(
      fc.property(keys, versions, keys, versions, (k1, v1, k2, v2) => {
        fc.pre(k1 !== k2 || v1 !== v2);
        expect(deliveryJobId(k1, v1)).not.toBe(deliveryJobId(k2, v2));
        expect(deliveryJobId(k1, v1)).not.toContain(":");
      }),
      { numRuns: 1000 },
    );
    // The version suffix cannot be confused with a key that looks like one.
    expect(deliveryJobId("a.v1", 2)).not.toBe(deliveryJobId("a", 12));
  });
});

describe("DeadLetterEntrySchema", () => {
  it("round-trips an entry with its attempt log", () => {
    const entry = {
      v: 1,
      id: deadLetterId("acme:42", 3),
      key: "acme:42",
      destination: "zendesk",
      version: 3,
      reason: "exhausted",
      error: "503 Service Unavailable",
      attempts: [
        {
          attempt: 1,
          at: "2025-01-01T00:00:02Z",
          outcome: "retryable",
          status: 503,
          error: "503",
          duration_ms: 120.5,
        },
        { attempt: 2, at: "2025-01-01T00:00:04Z", outcome: "unknown", error: "ECONNRESET" },
      ],
      first_attempt_at: "2025-01-01T00:00:02Z",
      dead_lettered_at: "2025-01-01T00:00:05Z",
    };
    expect(DeadLetterEntrySchema.parse(entry)).toEqual(entry);
    expect(DeadLetterEntrySchema.safeParse({ ...entry, reason: "bored" }).success).toBe(false);
  });
});
