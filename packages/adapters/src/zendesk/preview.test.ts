import { AuthError } from "@handoff-sync/schema";
import { FAKE_ZENDESK_API_TOKEN, snapshotFixture, startFakeZendesk } from "@handoff-sync/testing";
import { describe, expect, it } from "vitest";
import { createZendeskAdapter, type ZendeskConfig } from "./adapter.js";

const at = "2025-03-01T10:00:00.000Z";
const snapshot = snapshotFixture({ at, reason: "billing question" });

function config(url: string, overrides: Partial<ZendeskConfig> = {}): ZendeskConfig {
  return {
    type: "zendesk",
    url,
    auth: {
      method: "api_token",
      email: FAKE_ZENDESK_API_TOKEN.email,
      api_token: FAKE_ZENDESK_API_TOKEN.token,
    },
    on_missing_record: "recreate",
    allow_private_network: true,
    timeout_ms: 2_000,
    concurrency: 1,
    retry: { attempts: 3, base_delay_ms: 10, max_delay_ms: 100 },
    ...overrides,
  };
}

describe("Zendesk preview", () => {
  it("shows the lookup and the create of a first delivery, credentials masked", async () => {
    const fake = await startFakeZendesk();
    const adapter = createZendeskAdapter("support", config(fake.url));
    try {
      const requests = adapter.preview?.({ snapshot, destination: "support" }) ?? [];
      expect(requests.map((r) => [r.method, r.headers["authorization"]])).toEqual([
        ["GET", "Basic ****"],
        ["POST", "Basic ****"],
      ]);
      expect(new URL(requests[0]?.url ?? "").searchParams.get("external_id")).toBe("conv-1");
      expect(requests[1]?.headers["idempotency-key"]).toMatch(/\S/);
      expect(JSON.parse(requests[1]?.body ?? "")).toMatchObject({ ticket: { external_id: "conv-1" } });

      const sent = fake.requests.length;
      await adapter.deliver({ snapshot, destination: "support" });
      expect(fake.requests.slice(sent).map((r) => [r.method, r.path])).toEqual(
        requests.map((r) => [r.method, new URL(r.url).pathname]),
      );
    } finally {
      await adapter.close();
      await fake.close();
    }
  });

  it("shows the read of the ticket the ledger names, with a bearer token for OAuth", () => {
    const adapter = createZendeskAdapter(
      "support",
      config("https://acme.zendesk.com", { auth: { method: "oauth_token", access_token: "t" } }),
    );
    const requests =
      adapter.preview?.({ snapshot, destination: "support", previous: { version: 1, recordId: "42" } }) ?? [];
    expect(requests.map((r) => [r.method, r.url, r.headers["authorization"]])).toEqual([
      ["GET", "https://acme.zendesk.com/api/v2/tickets/42", "Bearer ****"],
    ]);
    void adapter.close();
  });
});

describe("Zendesk check", () => {
  it("authenticates and searches tickets; a refused token is an auth error", async () => {
    const fake = await startFakeZendesk();
    const good = createZendeskAdapter("support", config(fake.url));
    const bad = createZendeskAdapter(
      "support",
      config(fake.url, {
        auth: { method: "api_token", email: FAKE_ZENDESK_API_TOKEN.email, api_token: "wrong" },
      }),
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
