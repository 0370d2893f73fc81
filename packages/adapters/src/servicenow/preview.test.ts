import { AuthError } from "@handoff-sync/schema";
import { snapshotFixture, startFakeServiceNow } from "@handoff-sync/testing";
import { describe, expect, it } from "vitest";
import { createServiceNowAdapter, type ServiceNowConfig } from "./adapter.js";
import { KeyedLock } from "./key-lock.js";

const at = "2025-03-01T10:00:00.000Z";
const snapshot = snapshotFixture({ at });

function config(url: string, overrides: Partial<ServiceNowConfig> = {}): ServiceNowConfig {
  return {
    type: "servicenow",
    instance_url: url,
    table: "incident",
    auth: { method: "basic", username: "integration.user", password: "integration-password" },
    version_field: "u_handoff_version",
    on_missing_record: "recreate",
    allow_private_network: true,
    timeout_ms: 2_000,
    concurrency: 1,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    ...overrides,
  };
}

describe("ServiceNow preview", () => {
  it("shows the lookup and the create a first delivery sends, credentials masked", async () => {
    const fake = await startFakeServiceNow();
    const adapter = createServiceNowAdapter("snow", config(fake.url), { lock: new KeyedLock() });
    try {
      const requests = adapter.preview?.({ snapshot, destination: "snow" }) ?? [];
      expect(requests.map((r) => [r.method, r.headers["authorization"]])).toEqual([
        ["GET", "Basic ****"],
        ["POST", "Basic ****"],
      ]);
      expect(JSON.parse(requests[1]?.body ?? "")).toMatchObject({
        correlation_id: expect.any(String) as unknown,
        u_handoff_version: 1,
      });

      // The real delivery takes the same path through the same URLs.
      const sent = fake.requests.length;
      await adapter.deliver({ snapshot, destination: "snow" });
      expect(fake.requests.slice(sent).map((r) => [r.method, r.path])).toEqual(
        requests.map((r) => [r.method, new URL(r.url).pathname]),
      );
    } finally {
      await adapter.close();
      await fake.close();
    }
  });

  it("shows an update of the record the ledger names, with a bearer token for OAuth", () => {
    const adapter = createServiceNowAdapter(
      "snow",
      config("https://acme.service-now.com", {
        auth: { method: "oauth", grant_type: "client_credentials", client_id: "c", client_secret: "s" },
      }),
    );
    const requests =
      adapter.preview?.({ snapshot, destination: "snow", previous: { version: 1, recordId: "abc123" } }) ??
      [];
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "PATCH", headers: { authorization: "Bearer ****" } });
    expect(requests[0]?.url).toMatch(
      /^https:\/\/acme\.service-now\.com\/api\/now\/table\/incident\/abc123\?sysparm_fields=/,
    );
    void adapter.close();
  });
});

describe("ServiceNow check", () => {
  it("authenticates and reads the table; refused credentials are an auth error", async () => {
    const fake = await startFakeServiceNow();
    const good = createServiceNowAdapter("snow", config(fake.url));
    const bad = createServiceNowAdapter(
      "snow",
      config(fake.url, { auth: { method: "basic", username: "integration.user", password: "wrong" } }),
    );
    try {
      await expect(good.check?.()).resolves.toBeUndefined();
      await expect(bad.check?.()).rejects.toBeInstanceOf(AuthError);
      expect(fake.requests.every((r) => r.method === "GET")).toBe(true);
    } finally {
      await good.close();
      await bad.close();
      await fake.close();
    }
  });
});
