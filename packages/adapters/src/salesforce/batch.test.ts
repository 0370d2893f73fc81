import {
  DestinationError,
  HandoffSnapshotSchema,
  PermanentDeliveryError,
  RetryableDeliveryError,
  SupersededDeliveryError,
  type BatchItemOutcome,
  type HandoffSnapshot,
} from "@handoff-sync/schema";
import { startFakeSalesforce, type FakeSalesforce, type FakeSalesforceOptions } from "@handoff-sync/testing";
import { afterEach, describe, expect, it } from "vitest";
import type { Adapter, AdapterBatching, DeliveryRequest, DeliveryResult } from "../contract.js";
import { createAdapter } from "../registry.js";
import type { SalesforceConfig } from "./adapter.js";

// Batched deliveries over real HTTP against the fake Salesforce; no Kafka or Redis.

const CLIENT_ID = "3MVG9-consumer-key";
const CLIENT_SECRET = "consumer-secret";
let fake: FakeSalesforce | undefined;
const adapters: Adapter[] = [];

afterEach(async () => {
  await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
  await fake?.close();
  fake = undefined;
});

async function start(options: FakeSalesforceOptions = {}): Promise<FakeSalesforce> {
  fake = await startFakeSalesforce({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...options });
  return fake;
}

function batching(server: FakeSalesforce, overrides: Partial<SalesforceConfig> = {}): AdapterBatching {
  const adapter = createAdapter("sfdc", {
    type: "salesforce",
    instance_url: server.url,
    api_version: "62.0",
    auth: { method: "client_credentials", client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
    object: "Case",
    external_id_field: "Handoff_Key__c",
    version_field: "Handoff_Version__c",
    on_missing_record: "recreate",
    allow_private_network: true,
    timeout_ms: 500,
    concurrency: 2,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    batch: { max_size: 200, max_wait_ms: 50 },
    ...overrides,
  });
  adapters.push(adapter);
  if (adapter.batch === undefined) throw new Error("the Salesforce adapter batches");
  return adapter.batch;
}

const at = "2025-03-01T10:00:00.000Z";
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
    reason: "refund over limit",
    history: [
      { event_id: `e${version}`, id: key, state, stage: "initiated", occurred_at: at, received_at: at, data },
    ],
    created_at: at,
    updated_at: at,
  });
}

const request = (key: string, extra: Partial<DeliveryRequest> = {}): DeliveryRequest => ({
  snapshot: snapshot(key),
  destination: "sfdc",
  ...extra,
});
const collections = (server: FakeSalesforce) =>
  server.requests.filter((r) => r.path.includes("/composite/sobjects/")).length;
const errorOf = (outcome: BatchItemOutcome<DeliveryResult> | undefined): unknown =>
  outcome !== undefined && !outcome.ok ? outcome.error : undefined;
const keysOf = (server: FakeSalesforce) =>
  server
    .records()
    .map((r) => r["Handoff_Key__c"])
    .sort();

describe("salesforce sObject Collections upsert", () => {
  it("writes many deliveries in one API request and answers each with its record id", async () => {
    const server = await start();
    const outcomes = await batching(server).deliverBatch(["a", "b", "c"].map((key) => request(key)));
    expect(collections(server)).toBe(1);
    expect(server.apiUsage().used).toBe(1);
    const idOf = (key: string) => server.records().find((r) => r["Handoff_Key__c"] === key)?.Id;
    expect(outcomes).toEqual(
      ["a", "b", "c"].map((key) => ({ ok: true, value: { recordId: idOf(key), status: 201 } })),
    );
    expect(server.records()[0]).toMatchObject({ Handoff_Version__c: 1, Status: "New" });
  });

  it("fails a record Salesforce refuses alone, classified as a single upsert's error", async () => {
    const server = await start({
      validate: (_object, fields) =>
        String(fields["Description"]).includes("bad")
          ? { errorCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", message: "refused", fields: [] }
          : String(fields["Description"]).includes("locked")
            ? { errorCode: "UNABLE_TO_LOCK_ROW", message: "locked", fields: [] }
            : undefined,
    });
    const outcomes = await batching(server).deliverBatch(
      ["ok-1", "bad", "locked", "ok-2"].map((key) => request(key)),
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, false, true]);
    expect(errorOf(outcomes[1])).toBeInstanceOf(PermanentDeliveryError);
    expect(errorOf(outcomes[2])).toBeInstanceOf(RetryableDeliveryError);
    expect(keysOf(server)).toEqual(["ok-1", "ok-2"]);
  });

  it("treats an unknown field on every record as destination-wide", async () => {
    const server = await start({
      objects: { Case: { externalIdFields: ["Handoff_Key__c"], fields: ["Subject"] } },
    });
    const outcomes = await batching(server).deliverBatch(["a", "b"].map((key) => request(key)));
    for (const outcome of outcomes) expect(errorOf(outcome)).toBeInstanceOf(DestinationError);
  });

  it("leaves out a delivery whose write claim is refused", async () => {
    const server = await start();
    const fenced = new SupersededDeliveryError("fenced", "a later delivery started");
    const outcomes = await batching(server).deliverBatch([
      request("a"),
      request("b", { beforeWrite: () => Promise.reject(fenced) }),
    ]);
    expect(errorOf(outcomes[1])).toBe(fenced);
    expect(keysOf(server)).toEqual(["a"]);
  });

  it("stops a request whose send guard refuses one delivery, and sends the others again at once", async () => {
    const server = await start();
    const lockLost = new SupersededDeliveryError("lock_lost", "the queue lock of this delivery was lost");
    const outcomes = await batching(server).deliverBatch([
      request("a", { sendGuard: () => undefined }),
      request("b", { sendGuard: () => lockLost }),
      request("c", { sendGuard: () => undefined }),
    ]);
    expect(errorOf(outcomes[1])).toBe(lockLost);
    expect(outcomes[0]?.ok && outcomes[2]?.ok).toBe(true);
    // The first request never left, so only the second counts against the allocation.
    expect(server.apiUsage().used).toBe(1);
    expect(keysOf(server)).toEqual(["a", "c"]);
  });

  it("parks on a spent daily allocation: every delivery gets the destination-wide error", async () => {
    const server = await start({ dailyApiLimit: 3 });
    server.setApiUsage(3);
    const outcomes = await batching(server).deliverBatch(["a", "b"].map((key) => request(key)));
    for (const outcome of outcomes) {
      expect(errorOf(outcome)).toBeInstanceOf(DestinationError);
      expect(errorOf(outcome)).toMatchObject({ status: 403 });
    }
  });

  it("renews an expired session once and sends again", async () => {
    const server = await start();
    const sf = batching(server);
    await sf.deliverBatch([request("warm-up")]);
    server.expireSessions();
    const outcomes = await sf.deliverBatch(["a", "b"].map((key) => request(key)));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(server.tokensIssued()).toBe(2);
  });

  it("makes every record of a batch that committed and timed out ambiguous; sending again creates nothing twice", async () => {
    const server = await start();
    const sf = batching(server);
    server.faults.next({ kind: "delay_after_commit", ms: 1_000 }, 1, (r) => r.path.includes("/composite/"));
    const keys = ["a", "b", "c"];
    const timedOut = await sf.deliverBatch(keys.map((key) => request(key)));
    for (const outcome of timedOut) {
      expect(errorOf(outcome)).toBeInstanceOf(RetryableDeliveryError);
      expect((errorOf(outcome) as RetryableDeliveryError).status).toBeUndefined();
    }
    expect(server.records()).toHaveLength(3);
    const retried = await sf.deliverBatch(keys.map((key) => request(key)));
    expect(retried.map((o) => (o.ok ? o.value.status : o.error))).toEqual([200, 200, 200]);
    expect(server.records()).toHaveLength(3);
  });

  it("sends deliveries with a task, bad keys or a ledger id to update under park alone", async () => {
    const server = await start();
    const withTask = batching(server, {
      task: { object: "Task", external_id_field: "Handoff_Key__c", link_field: "WhatId" },
    });
    expect(withTask.accepts(request("a"))).toBe(false);
    const plain = batching(server);
    expect(plain.accepts(request("a"))).toBe(true);
    expect(plain.accepts(request("a/b"))).toBe(false);
    expect(plain.accepts(request("a", { previous: { version: 1, recordId: "500x" } }))).toBe(true);
    const park = batching(server, { on_missing_record: "park" });
    expect(park.accepts(request("a", { previous: { version: 1, recordId: "500x" } }))).toBe(false);
  });

  it("previews the collection request with every record", async () => {
    const server = await start();
    const previewed = batching(server).previewBatch(["a", "b"].map((key) => request(key)));
    const collection = previewed.at(-1);
    expect(collection).toMatchObject({
      method: "PATCH",
      url: `${server.url}/services/data/v62.0/composite/sobjects/Case/Handoff_Key__c`,
    });
    const body = JSON.parse(collection?.body ?? "{}") as {
      allOrNone: boolean;
      records: Record<string, unknown>[];
    };
    expect(body.allOrNone).toBe(false);
    expect(body.records.map((r) => [r["attributes"], r["Handoff_Key__c"]])).toEqual([
      [{ type: "Case" }, "a"],
      [{ type: "Case" }, "b"],
    ]);
  });
});
