import { HandoffSnapshotSchema } from "@handoff-sync/schema";
import { startFakeHubSpot, type FakeHubSpot } from "@handoff-sync/testing";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Adapter, DeliveryRequest } from "../contract.js";
import { createAdapter } from "../registry.js";
import type * as Response from "./response.js";

// What a batch costs the worker beyond the request: its answer (up to 100 results) is read once,
// not once per input. Reading it per input made a batch's CPU grow with its size squared: in the
// bench's HubSpot phase it was most of the batched worker's own time (795 ms of zod per 3,000
// handoffs, 30 batches).

const reads = vi.hoisted(() => ({ count: 0 }));
vi.mock("./response.js", async (importOriginal) => {
  const actual = await importOriginal<typeof Response>();
  return {
    ...actual,
    parseBatchResponse: (body: unknown) => {
      reads.count++;
      return actual.parseBatchResponse(body);
    },
  };
});

let fake: FakeHubSpot | undefined;
const adapters: Adapter[] = [];
afterEach(async () => {
  await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
  await fake?.close();
  fake = undefined;
});

const at = "2026-03-01T10:00:00.000Z";
const request = (key: string): DeliveryRequest => ({
  snapshot: HandoffSnapshotSchema.parse({
    schema_version: 1,
    key,
    id: key,
    state: "handoff_initiated",
    stage: "initiated",
    version: 1,
    occurred_at: at,
    data: {},
    history: [
      {
        event_id: "e1",
        id: key,
        state: "handoff_initiated",
        stage: "initiated",
        occurred_at: at,
        received_at: at,
        data: {},
      },
    ],
    created_at: at,
    updated_at: at,
  }),
  destination: "hubspot-support",
});

describe("hubspot batch upsert: cost", () => {
  it("reads HubSpot's answer once per request, however many inputs it carries", async () => {
    fake = await startFakeHubSpot();
    const adapter = createAdapter("hubspot-support", {
      type: "hubspot",
      base_url: fake.url,
      auth: { method: "private_app", token: "pat-na1-fake" },
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
      timeout_ms: 2_000,
      concurrency: 2,
      retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
      batch: { max_size: 100, max_wait_ms: 50 },
    });
    adapters.push(adapter);
    const keys = Array.from({ length: 100 }, (_, i) => `cost-${i}`);
    const outcomes = await adapter.batch?.deliverBatch(keys.map(request));
    expect(outcomes?.every((outcome) => outcome.ok)).toBe(true);
    expect(fake.records("tickets")).toHaveLength(100);
    expect(reads.count).toBe(1);
  });
});
