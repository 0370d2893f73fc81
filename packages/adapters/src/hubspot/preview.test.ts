import { AuthError } from "@handoff-sync/schema";
import { snapshotFixture, startFakeHubSpot } from "@handoff-sync/testing";
import { describe, expect, it } from "vitest";
import { createHubSpotAdapter, type HubSpotConfig } from "./adapter.js";

const at = "2026-03-01T10:00:00.000Z";
const data = { customer_id: "C-42", hubspot_contact_id: 501 };
const snapshot = snapshotFixture({ at, data });

function config(url: string, overrides: Partial<HubSpotConfig> = {}): HubSpotConfig {
  return {
    type: "hubspot",
    base_url: url,
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
    concurrency: 1,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    ...overrides,
  };
}

describe("HubSpot preview", () => {
  it("shows the upsert and the association a first delivery sends, the token masked", async () => {
    const fake = await startFakeHubSpot({ contacts: ["501"] });
    const adapter = createHubSpotAdapter("hubspot-support", config(fake.url));
    try {
      const requests = adapter.preview?.({ snapshot, destination: "hubspot-support" }) ?? [];
      expect(requests.map((r) => [r.method, r.headers["authorization"], r.note])).toEqual([
        ["POST", "Bearer ****", "upsert by handoff_key"],
        ["PUT", "Bearer ****", expect.stringContaining("associate the contact") as unknown],
      ]);
      expect(JSON.parse(requests[0]?.body ?? "")).toMatchObject({
        inputs: [{ idProperty: "handoff_key", id: "conv-1" }],
      });

      const sent = fake.requests.length;
      const { recordId } = await adapter.deliver({ snapshot, destination: "hubspot-support" });
      expect(fake.requests.slice(sent).map((r) => [r.method, r.path])).toEqual(
        requests.map((r) => [r.method, new URL(r.url.replace("{recordId}", recordId ?? "")).pathname]),
      );
      expect(fake.records("tickets")).toHaveLength(1);
    } finally {
      await adapter.close();
      await fake.close();
    }
  });

  it("shows an update by id when deleted records park the destination", () => {
    const adapter = createHubSpotAdapter(
      "hubspot-support",
      config("https://api.hubapi.com", { on_missing_record: "park" }),
    );
    const requests =
      adapter.preview?.({
        snapshot,
        destination: "hubspot-support",
        previous: { version: 1, recordId: "77" },
      }) ?? [];
    expect(requests.map((r) => [r.method, r.url])).toEqual([
      ["PATCH", "https://api.hubapi.com/crm/v3/objects/tickets/77"],
      ["PUT", "https://api.hubapi.com/crm/v4/objects/tickets/77/associations/contacts/501"],
    ]);
    void adapter.close();
  });
});

describe("HubSpot check", () => {
  it("authenticates and reads by id_property; a refused token is an auth error", async () => {
    const fake = await startFakeHubSpot();
    const good = createHubSpotAdapter("hubspot-support", config(fake.url));
    const bad = createHubSpotAdapter(
      "hubspot-support",
      config(fake.url, { auth: { method: "private_app", token: "pat-na1-wrong" } }),
    );
    try {
      await expect(good.check?.()).resolves.toBeUndefined();
      await expect(bad.check?.()).rejects.toBeInstanceOf(AuthError);
      expect(fake.writes.all()).toEqual([]);
    } finally {
      await good.close();
      await bad.close();
      await fake.close();
    }
  });
});
