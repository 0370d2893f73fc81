import {
  DestinationError,
  HandoffSnapshotSchema,
  PermanentDeliveryError,
  RetryableDeliveryError,
  SupersededDeliveryError,
  type BatchItemOutcome,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import { startFakeHubSpot, type FakeHubSpot, type FakeHubSpotOptions } from "@handoff-sync/testing";
import { afterEach, describe, expect, it } from "vitest";
import type { Adapter, AdapterBatching, DeliveryRequest, DeliveryResult } from "../contract.js";
import { createAdapter } from "../registry.js";
import type { HubSpotConfig } from "./adapter.js";

// Batched deliveries over real HTTP against the fake HubSpot; no Kafka or Redis.

const TOKEN = "pat-na1-fake";
let fake: FakeHubSpot | undefined;
const adapters: Adapter[] = [];

afterEach(async () => {
  await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
  await fake?.close();
  fake = undefined;
});

async function start(options: FakeHubSpotOptions = {}): Promise<FakeHubSpot> {
  fake = await startFakeHubSpot(options);
  return fake;
}

function batching(hubspot: FakeHubSpot, overrides: Partial<HubSpotConfig> = {}): AdapterBatching {
  const adapter = createAdapter("hubspot-support", {
    type: "hubspot",
    base_url: hubspot.url,
    auth: { method: "private_app", token: TOKEN },
    object: "tickets",
    id_property: "handoff_key",
    version_property: "handoff_version",
    contact_association: {
      enabled: true,
      path: "data.hubspot_contact_id",
      association_type_id: 16,
      association_category: "HUBSPOT_DEFINED",
    },
    on_missing_record: "recreate",
    allow_private_network: true,
    timeout_ms: 500,
    concurrency: 2,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    batch: { max_size: 100, max_wait_ms: 50 },
    ...overrides,
  });
  adapters.push(adapter);
  if (adapter.batch === undefined) throw new Error("the HubSpot adapter batches");
  return adapter.batch;
}

const at = "2026-03-01T10:00:00.000Z";
function snapshot(key: string, version = 1, data: Record<string, unknown> = {}): HandoffSnapshot {
  const state = "handoff_initiated";
  return HandoffSnapshotSchema.parse({
    schema_version: 1,
    key,
    id: key,
    state,
    stage: "initiated",
    version,
    occurred_at: at,
    data,
    reason: "billing question",
    history: [
      { event_id: `e${version}`, id: key, state, stage: "initiated", occurred_at: at, received_at: at, data },
    ],
    created_at: at,
    updated_at: at,
  });
}

const request = (key: string, extra: Partial<DeliveryRequest> = {}): DeliveryRequest => ({
  snapshot: snapshot(key),
  destination: "hubspot-support",
  ...extra,
});

const upserts = (hubspot: FakeHubSpot) =>
  hubspot.requests.filter((r) => r.path.endsWith("/batch/upsert")).length;
const errorOf = (outcome: BatchItemOutcome<DeliveryResult> | undefined): unknown =>
  outcome !== undefined && !outcome.ok ? outcome.error : undefined;

describe("hubspot batch upsert", () => {
  it("writes many deliveries in one request and answers each with its own record id", async () => {
    const hubspot = await start();
    const outcomes = await batching(hubspot).deliverBatch(["a", "b", "c"].map((key) => request(key)));
    expect(upserts(hubspot)).toBe(1);
    const records = hubspot.records("tickets");
    const idOf = (key: string) => records.find((r) => r.properties["handoff_key"] === key)?.id;
    expect(outcomes).toEqual(
      ["a", "b", "c"].map((key) => ({ ok: true, value: { recordId: idOf(key), status: 200 } })),
    );
    expect(new Set(outcomes.map((o) => (o.ok ? o.value.recordId : undefined))).size).toBe(3);
  });

  it("fails the inputs a 207 names alone, classified as a single upsert's would be", async () => {
    const hubspot = await start();
    hubspot.rejectInput("bad", { category: "VALIDATION_ERROR", message: "Property values were not valid" });
    hubspot.rejectInput("busy", { category: "CONFLICT", message: "a concurrent write" });
    const outcomes = await batching(hubspot).deliverBatch(
      ["ok-1", "bad", "busy", "ok-2"].map((key) => request(key)),
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, false, true]);
    expect(errorOf(outcomes[1])).toBeInstanceOf(PermanentDeliveryError);
    expect(errorOf(outcomes[2])).toBeInstanceOf(RetryableDeliveryError);
    expect(errorOf(outcomes[2])).not.toBeInstanceOf(PermanentDeliveryError);
    expect(
      hubspot
        .records("tickets")
        .map((r) => r.properties["handoff_key"])
        .sort(),
    ).toEqual(["ok-1", "ok-2"]);
  });

  it("leaves out a delivery whose write claim is refused, and sends the others", async () => {
    const hubspot = await start();
    const fenced = new SupersededDeliveryError("fenced", "a later delivery started");
    const outcomes = await batching(hubspot).deliverBatch([
      request("a"),
      request("b", { beforeWrite: () => Promise.reject(fenced) }),
      request("c"),
    ]);
    expect(errorOf(outcomes[1])).toBe(fenced);
    expect(outcomes[0]?.ok && outcomes[2]?.ok).toBe(true);
    expect(
      hubspot
        .records("tickets")
        .map((r) => r.properties["handoff_key"])
        .sort(),
    ).toEqual(["a", "c"]);
  });

  it("stops a request whose send guard refuses one delivery, and sends the others again at once", async () => {
    const hubspot = await start();
    const lockLost = new SupersededDeliveryError("lock_lost", "the queue lock of this delivery was lost");
    const outcomes = await batching(hubspot).deliverBatch([
      request("a", { sendGuard: () => undefined }),
      // Its lock was lost between its check and the send: that says nothing about the others' locks.
      request("b", { sendGuard: () => lockLost }),
      request("c", { sendGuard: () => undefined }),
    ]);
    expect(errorOf(outcomes[1])).toBe(lockLost);
    expect(outcomes[0]?.ok && outcomes[2]?.ok).toBe(true);
    // The first request never left; the second carried the two others.
    expect(upserts(hubspot)).toBe(1);
    expect(
      hubspot
        .records("tickets")
        .map((r) => r.properties["handoff_key"])
        .sort(),
    ).toEqual(["a", "c"]);
  });

  it("gives up sending again after one more refusal: the deliveries stopped by others retry, unwritten", async () => {
    const hubspot = await start();
    const stale = (key: string) => new RetryableDeliveryError(`not sent: ${key}'s check is stale`);
    // Each try claims c again before its send: the count of c's checks is the try.
    let tries = 0;
    const outcomes = await batching(hubspot).deliverBatch([
      request("a", { sendGuard: () => (tries === 1 ? stale("a") : undefined) }),
      request("b", { sendGuard: () => (tries === 2 ? stale("b") : undefined) }),
      request("c", {
        beforeWrite: () => {
          tries++;
          return Promise.resolve();
        },
        sendGuard: () => undefined,
      }),
    ]);
    expect(String(errorOf(outcomes[0]))).toContain("a's check is stale");
    expect(String(errorOf(outcomes[1]))).toContain("b's check is stale");
    expect(errorOf(outcomes[2])).toBeInstanceOf(RetryableDeliveryError);
    expect(String(errorOf(outcomes[2]))).toMatch(/^RetryableDeliveryError: not sent: another delivery/);
    expect(hubspot.records("tickets")).toEqual([]);
  });

  it("gives every delivery the error of a request refused as a whole", async () => {
    const hubspot = await start({ rateLimits: { tenSecondly: 1 } });
    const hs = batching(hubspot);
    await hs.deliverBatch([request("warm-up")]);
    const limited = await hs.deliverBatch(["a", "b"].map((key) => request(key)));
    for (const outcome of limited) {
      expect(errorOf(outcome)).toBeInstanceOf(RetryableDeliveryError);
      expect(errorOf(outcome)).toMatchObject({ status: 429, retryAfterMs: 10_000 });
    }
  });

  it("refuses an unknown property for every delivery as destination-wide", async () => {
    const hubspot = await start();
    const outcomes = await batching(hubspot, {
      mapping: { no_such_property: { literal: "x" } },
    }).deliverBatch(["a", "b"].map((key) => request(key)));
    for (const outcome of outcomes) expect(errorOf(outcome)).toBeInstanceOf(DestinationError);
  });

  it("makes every delivery of a batch that committed and then timed out ambiguous; sending again creates nothing twice", async () => {
    const hubspot = await start();
    const hs = batching(hubspot);
    hubspot.faults.next({ kind: "delay_after_commit", ms: 1_000 });
    const keys = ["a", "b", "c"];
    const timedOut = await hs.deliverBatch(keys.map((key) => request(key)));
    for (const outcome of timedOut) {
      expect(errorOf(outcome)).toBeInstanceOf(RetryableDeliveryError);
      // No status: nothing answered, so the worker keeps each delivery's write claim (decision 0017).
      expect((errorOf(outcome) as RetryableDeliveryError).status).toBeUndefined();
    }
    expect(hubspot.records("tickets")).toHaveLength(3);
    const retried = await hs.deliverBatch(keys.map((key) => request(key)));
    expect(retried.every((o) => o.ok)).toBe(true);
    expect(hubspot.records("tickets")).toHaveLength(3);
    expect(hubspot.writes.all().map((w) => w.operation)).toEqual([
      "create",
      "create",
      "create",
      "update",
      "update",
      "update",
    ]);
  });

  it("associates each delivery's contact with a call of its own, under that delivery's fence", async () => {
    const hubspot = await start({ contacts: ["501"] });
    let claims = 0;
    const outcomes = await batching(hubspot).deliverBatch([
      request("a", {
        snapshot: snapshot("a", 1, { hubspot_contact_id: "501" }),
        beforeWrite: () => {
          claims++;
          return Promise.resolve();
        },
      }),
      request("b"),
    ]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(claims).toBe(2);
    expect(hubspot.associations()).toMatchObject([{ fromObject: "tickets", toId: "501" }]);
  });

  it("sends deliveries that must update by the ledger's id alone", async () => {
    const hubspot = await start();
    const hs = batching(hubspot, { on_missing_record: "park" });
    expect(hs.accepts(request("a"))).toBe(true);
    expect(hs.accepts(request("a", { previous: { version: 1, recordId: "1001" } }))).toBe(false);
  });

  it("previews one batch request with every input", async () => {
    const hubspot = await start();
    const [upsert, ...rest] = batching(hubspot).previewBatch(["a", "b"].map((key) => request(key)));
    expect(rest).toEqual([]);
    expect(upsert).toMatchObject({
      method: "POST",
      url: `${hubspot.url}/crm/v3/objects/tickets/batch/upsert`,
    });
    const body = JSON.parse(upsert?.body ?? "{}") as { inputs: { id: string }[] };
    expect(body.inputs.map((input) => input.id)).toEqual(["a", "b"]);
    expect(upsert?.headers["authorization"]).toBe("Bearer ****");
  });
});
