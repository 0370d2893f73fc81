import { randomUUID } from "node:crypto";
import { createAdmin, createAuditLog, type Admin } from "@handoff-sync/admin";
import { createWebhookAdapter } from "@handoff-sync/adapters";
import { createDeliveryQueues, createDeliveryWorker, type DeliveryQueues } from "@handoff-sync/queue";
import { createStateCatalogue, deadLetterId, deliveryJobId, type HandoffEvent } from "@handoff-sync/schema";
import {
  createHandoffStore,
  createRedisClient,
  type HandoffStore,
  type RedisClient,
  scanAll,
} from "@handoff-sync/store";
import { createLogger, createRegistry } from "@handoff-sync/telemetry";
import {
  type FakeServer,
  startFakeServer,
  testRedisTarget,
  uniqueName,
  waitFor,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildApi, type Api, type ApiSettings } from "./app.js";
import { parseApiKeysEnv, parseTrustProxy, type ApiKey, type TrustProxy } from "./auth.js";
import { openApiDocument } from "./openapi.js";
import { createSessionStore } from "./sessions.js";

const log = createLogger({ level: "silent", service: "api-test" });
const catalogue = createStateCatalogue({});
const KEYS = {
  read: "test-read-key-0123456789",
  operate: "test-operate-key-0123456789",
  admin: "test-admin-key-0123456789",
} as const;
const keys = parseApiKeysEnv(
  `reader:read:${KEYS.read},operator:operate:${KEYS.operate},root:admin:${KEYS.admin}`,
);
const policy = { attempts: 3, base_delay_ms: 100, max_delay_ms: 400 };

interface Harness {
  readonly prefix: string;
  readonly store: HandoffStore;
  readonly queues: DeliveryQueues;
  readonly admin: Admin;
  readonly app: Api;
  readonly url: string;
}

interface HarnessOptions {
  readonly auth?: ApiSettings["auth"];
  readonly trustProxy?: TrustProxy;
  /** The keys in force, read on every request as the reloading key ring is. */
  readonly keys?: () => readonly ApiKey[];
}

/** The API as main.ts wires it, listening on a free port, against real Redis. */
async function startApi(
  connection: RedisClient,
  prefix: string,
  destinations: readonly string[],
  options: HarnessOptions = {},
): Promise<Harness> {
  const auth = options.auth ?? {
    failureLimit: 5,
    globalFailureLimit: 100,
    failureWindowMs: 60_000,
    maxLockoutMs: 5000,
  };
  const store = createHandoffStore({ redis: connection, prefix, retentionMs: 600_000 });
  const queues = createDeliveryQueues({
    connection,
    prefix,
    destinations: Object.fromEntries(destinations.map((d) => [d, policy])),
  });
  const audit = createAuditLog({ redis: connection, key: store.keys.audit(), log });
  const admin = createAdmin({
    store,
    queues,
    audit,
    log,
    source: { topic: "unused", rejectedTopic: "unused.dlq", groupId: "unused" },
  });
  const app = buildApi({
    admin,
    queues,
    log,
    checks: { redis: async () => void (await connection.ping()) },
    registry: createRegistry("api"),
    keys: { current: options.keys ?? (() => keys) },
    sessions: createSessionStore(connection, (hash) => store.keys.session(hash), 60_000),
    account: { accountId: "acme", projectId: "support" },
    auth,
    sessionTtlMs: 60_000,
    secureCookies: false,
    trustProxy: options.trustProxy ?? false,
  });
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  return { prefix, store, queues, admin, app, url: address };
}

describe("api (in process, real Redis, real HTTP)", () => {
  const connection = createRedisClient(testRedisTarget(inject("redisUrl"), inject("redisCluster")), {
    maxRetriesPerRequest: null,
  });
  const cleanups: (() => Promise<unknown>)[] = [];
  let h: Harness;
  let ok: FakeServer;
  let bad: FakeServer;
  /** While true, the `bad` receiver refuses every record with 422 (record-level, dead-lettered at once). */
  let badRefuses = true;

  const call = (path: string, init: RequestInit & { key?: string | null } = {}): Promise<Response> => {
    const { key = KEYS.admin, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (key !== null) headers.set("x-api-key", key);
    if (rest.body !== undefined) headers.set("content-type", "application/json");
    return fetch(`${h.url}${path}`, { ...rest, headers });
  };
  const json = async (response: Response): Promise<Record<string, unknown>> =>
    (await response.json()) as Record<string, unknown>;

  async function send(
    sharedId: string,
    customerId: string,
    destinations: readonly string[],
    state = "handoff_initiated",
  ): Promise<string> {
    const event: HandoffEvent = {
      schema_version: 1,
      event_id: randomUUID(),
      id: `conv-${sharedId}`,
      shared_id: sharedId,
      state,
      occurred_at: new Date().toISOString(),
      data: { customer_id: customerId, handoff_reason: "successfully_identified" },
    };
    const applied = await h.store.apply(event, { catalogue, receivedAt: new Date().toISOString() });
    for (const destination of destinations) {
      await h.queues.enqueue(destination, {
        v: 1,
        key: applied.key,
        version: applied.snapshot.version,
        event_id: event.event_id,
        occurred_at: event.occurred_at,
        enqueued_at: new Date().toISOString(),
      });
    }
    return applied.key;
  }

  beforeAll(async () => {
    ok = await startFakeServer(() => ({ status: 204 }));
    bad = await startFakeServer(() =>
      badRefuses ? { status: 422, body: { error: "customer_id is not known here" } } : { status: 204 },
    );
    h = await startApi(connection, uniqueName("t"), ["crm", "bad", "slow", "late"]);
    for (const [name, url] of [
      ["crm", ok.url],
      ["bad", bad.url],
    ] as const) {
      const adapter = createWebhookAdapter(name, {
        type: "webhook",
        url,
        secret: ["whsec_dGVzdC1zZWNyZXQ="],
        allow_private_network: true,
        timeout_ms: 2000,
        concurrency: 2,
        retry: policy,
      });
      const worker = createDeliveryWorker({
        queue: h.queues.get(name),
        connection,
        store: h.store,
        log,
        concurrency: 2,
        deliver: (r) => adapter.deliver(r),
        parkAfterIdenticalFailures: 100,
      });
      cleanups.push(
        () => adapter.close(),
        () => worker.close(),
      );
    }
    // `slow` and `late` have no worker: their jobs wait, as behind a CRM outage.
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await h.app.close();
    await h.queues.close();
    await ok.close();
    await bad.close();
    await connection.quit();
  });

  describe("auth", () => {
    it("keeps health, readiness and metrics open and everything else behind a key", async () => {
      expect((await call("/healthz", { key: null })).status).toBe(200);
      expect((await call("/readyz", { key: null })).status).toBe(200);
      expect((await call("/metrics", { key: null })).status).toBe(200);
      const missing = await call("/admin/v1/destinations", { key: null });
      expect(missing.status).toBe(401);
      expect(missing.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(await json(missing)).toMatchObject({ status: 401, title: "Unauthorized" });
      expect((await call("/v1/handoffs?shared_id=x", { key: null })).status).toBe(401);
    });

    it("answers 403 when the key lacks the scope, and accepts Bearer too", async () => {
      const replay = await call("/admin/v1/destinations/bad/dead-letters/replay", {
        key: KEYS.read,
        method: "POST",
        body: JSON.stringify({ all: true, dry_run: true }),
      });
      expect(replay.status).toBe(403);
      expect(await json(replay)).toMatchObject({ status: 403, title: "Forbidden" });
      expect(
        (
          await call("/admin/v1/erasure", {
            key: KEYS.operate,
            method: "POST",
            body: JSON.stringify({ shared_id: "x", dry_run: true }),
          })
        ).status,
      ).toBe(403);
      expect((await call("/admin/v1/audit", { key: KEYS.operate })).status).toBe(403);
      const bearer = await fetch(`${h.url}/admin/v1/destinations`, {
        headers: { authorization: `Bearer ${KEYS.read}` },
      });
      expect(bearer.status).toBe(200);
    });

    it("slows down a client's invalid keys (429 with Retry-After) and never a valid key", async () => {
      const locked = await startApi(connection, uniqueName("t"), ["crm"], {
        auth: { failureLimit: 5, globalFailureLimit: 100, failureWindowMs: 60_000, maxLockoutMs: 2000 },
      });
      try {
        const attempt = (key: string) =>
          fetch(`${locked.url}/admin/v1/destinations`, { headers: { "x-api-key": key } });
        for (let i = 0; i < 4; i++) expect((await attempt(`wrong-key-${i}-0123456789`)).status).toBe(401);
        expect((await attempt("wrong-key-5-0123456789")).status).toBe(401); // the fifth starts the lockout
        const refused = await attempt("wrong-key-6-0123456789");
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        // Behind one ingress address, the operators' valid keys keep working during the lockout.
        expect((await attempt(KEYS.read)).status).toBe(200);
        expect((await attempt(KEYS.admin)).status).toBe(200);
        expect((await fetch(`${locked.url}/healthz`)).status).toBe(200);
        await waitFor(async () => (await attempt("wrong-key-7-0123456789")).status === 401, {
          timeoutMs: 5000,
          message: "lockout over",
        });
      } finally {
        await locked.app.close();
        await locked.queues.close();
      }
    });

    it("behind an ingress (HANDOFF_API_TRUST_PROXY=true), a forged X-Forwarded-For does not reset the count", async () => {
      const trustProxy = parseTrustProxy("true");
      if (typeof trustProxy === "object" && "problem" in trustProxy) throw new Error(trustProxy.problem);
      const behind = await startApi(connection, uniqueName("t"), ["crm"], {
        trustProxy,
        auth: { failureLimit: 3, globalFailureLimit: 100, failureWindowMs: 60_000, maxLockoutMs: 5000 },
      });
      try {
        // The ingress appends the address it saw; whatever the client wrote stays to its left.
        const attempt = (key: string, forged: string, real: string) =>
          fetch(`${behind.url}/admin/v1/destinations`, {
            headers: { "x-api-key": key, "x-forwarded-for": `${forged}, ${real}` },
          });
        for (let i = 0; i < 3; i++)
          expect((await attempt(`wrong-key-${i}-0123456789`, `198.51.100.${i}`, "203.0.113.7")).status).toBe(
            401,
          );
        expect((await attempt("wrong-key-3-0123456789", "198.51.100.99", "203.0.113.7")).status).toBe(429);
        // Another real client is counted on its own.
        expect((await attempt("wrong-key-4-0123456789", "198.51.100.99", "203.0.113.8")).status).toBe(401);
      } finally {
        await behind.app.close();
        await behind.queues.close();
      }
    });

    it("bounds invalid keys from all clients together, and still lets valid keys through", async () => {
      const many = await startApi(connection, uniqueName("t"), ["crm"], {
        trustProxy: 1,
        auth: { failureLimit: 5, globalFailureLimit: 4, failureWindowMs: 60_000, maxLockoutMs: 5000 },
      });
      try {
        const attempt = (key: string, client: string) =>
          fetch(`${many.url}/admin/v1/destinations`, {
            headers: { "x-api-key": key, "x-forwarded-for": client },
          });
        for (let i = 0; i < 4; i++)
          expect((await attempt(`wrong-key-${i}-0123456789`, `203.0.113.${i + 10}`)).status).toBe(401);
        expect((await attempt("wrong-key-9-0123456789", "203.0.113.50")).status).toBe(429);
        expect((await attempt(KEYS.read, "203.0.113.51")).status).toBe(200);
      } finally {
        await many.app.close();
        await many.queues.close();
      }
    });

    it("ends a queue UI session once its API key is no longer configured", async () => {
      let current: readonly ApiKey[] = keys;
      const ui = await startApi(connection, uniqueName("t"), ["crm"], { keys: () => current });
      try {
        const login = await fetch(`${ui.url}/admin/login`, {
          method: "POST",
          body: new URLSearchParams({ api_key: KEYS.operate }),
          redirect: "manual",
        });
        expect(login.status).toBe(303);
        const cookie = /hs_session=[^;]+/.exec(login.headers.get("set-cookie") ?? "")?.[0] ?? "";
        expect(cookie).not.toBe("");
        const queues = () => fetch(`${ui.url}/admin/queues/api/queues`, { headers: { cookie } });
        expect((await queues()).status).toBe(200);

        current = keys.filter((key) => key.name !== "operator");
        expect((await queues()).status).toBe(401);
        // Ended, not suspended: the key coming back does not revive the session.
        current = keys;
        expect((await queues()).status).toBe(401);
        expect(await scanAll(connection, `${ui.prefix}*session*`)).toEqual([]);
      } finally {
        await ui.app.close();
        await ui.queues.close();
      }
    });
  });

  describe("handoff lookup", () => {
    it("answers the seed-compatible endpoint with exactly {id, shared_id, data}; shared_id wins; other accounts are 404", async () => {
      const a = uniqueName("share-a");
      const b = uniqueName("share-b");
      await send(a, "cust-a", []);
      await send(b, "cust-b", []);
      const response = await call(`/v1/acme/support/handoff_state?shared_id=${a}`, { key: KEYS.read });
      expect(response.status).toBe(200);
      expect(await json(response)).toEqual({
        id: `conv-${a}`,
        shared_id: a,
        data: { customer_id: "cust-a", handoff_reason: "successfully_identified" },
      });
      const both = await json(
        await call(`/v1/acme/support/handoff_state?id=conv-${b}&shared_id=${a}`, { key: KEYS.read }),
      );
      expect(both["shared_id"]).toBe(a);
      expect(
        await json(await call(`/v1/acme/support/handoff_state?id=conv-${b}`, { key: KEYS.read })),
      ).toMatchObject({ shared_id: b });
      expect(
        (await call(`/v1/acme/support/handoff_state?shared_id=nope-${a}&id=conv-${b}`, { key: KEYS.read }))
          .status,
      ).toBe(404);
      const other = await call(`/v1/other/support/handoff_state?shared_id=${a}`, { key: KEYS.read });
      expect(other.status).toBe(404);
      expect(other.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect((await call(`/v1/acme/support/handoff_state?shared_id=${a}`, { key: null })).status).toBe(401);
      expect((await call(`/v1/acme/support/handoff_state`, { key: KEYS.read })).status).toBe(400);
    });

    it("leaves shared_id out of the seed-compatible answer when the handoff has none (never null)", async () => {
      const id = uniqueName("conv-only");
      const event: HandoffEvent = {
        schema_version: 1,
        event_id: randomUUID(),
        id,
        state: "handoff_initiated",
        occurred_at: new Date().toISOString(),
        data: { customer_id: "12345", handoff_reason: "successfully_identified" },
      };
      await h.store.apply(event, { catalogue, receivedAt: new Date().toISOString() });
      const response = await call(`/v1/acme/support/handoff_state?id=${id}`, { key: KEYS.read });
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).not.toContain("shared_id");
      expect(JSON.parse(text)).toEqual({
        id,
        data: { customer_id: "12345", handoff_reason: "successfully_identified" },
      });
    });

    it("reports each destination's delivery status: delivered, dead_lettered, pending, then parked", async () => {
      const sharedId = uniqueName("status");
      const key = await send(sharedId, "cust-status", ["crm", "bad", "slow"]);
      const statusOf = async () => {
        const body = await json(await call(`/v1/handoffs?shared_id=${sharedId}`, { key: KEYS.read }));
        return Object.fromEntries(
          (body["deliveries"] as { destination: string }[]).map((d) => [d.destination, d]),
        ) as Record<string, Record<string, unknown>>;
      };
      const settled = await waitFor(
        async () => {
          const s = await statusOf();
          return s["crm"]?.["status"] === "delivered" && s["bad"]?.["status"] === "dead_lettered"
            ? s
            : undefined;
        },
        { timeoutMs: 20_000, message: "crm delivered and bad dead-lettered" },
      );
      expect(settled["crm"]).toMatchObject({ up_to_date: true, delivered: { version: 1 } });
      expect(settled["bad"]).toMatchObject({
        dead_letter: { id: deadLetterId(key, 1), reason: "permanent", version: 1 },
        last_attempt: { status: 422 },
      });
      expect(settled["slow"]).toMatchObject({
        status: "pending",
        pending_job: { id: deliveryJobId(key, 1), version: 1 },
      });
      expect(settled["late"]).toMatchObject({ status: "not_sent", delivered: null });

      expect(
        (
          await call("/admin/v1/destinations/slow/pause", {
            method: "POST",
            body: JSON.stringify({ reason: "CRM maintenance" }),
            key: KEYS.operate,
          })
        ).status,
      ).toBe(200);
      expect((await statusOf())["slow"]).toMatchObject({
        status: "parked",
        parked: { reason: "CRM maintenance", by: "operator" },
      });
      // A 429's wait marks a destination rate-limited; the limiter's ordinary window does not.
      await h.queues.get("late").deliver.rateLimit(30_000);
      const overview = (await json(await call("/admin/v1/destinations", { key: KEYS.read })))[
        "destinations"
      ] as Record<string, unknown>[];
      expect(overview.find((d) => d["destination"] === "crm")).toMatchObject({ rate_limited: false });
      expect(overview.find((d) => d["destination"] === "late")).toMatchObject({ rate_limited: true });
      expect(overview.map((d) => d["destination"]).sort()).toEqual(["bad", "crm", "late", "slow"]);
      expect(overview.find((d) => d["destination"] === "slow")).toMatchObject({
        paused: true,
        parked: { reason: "CRM maintenance" },
        rate_limited: false,
      });
      expect(overview.find((d) => d["destination"] === "bad")?.["dead_lettered"]).toBeGreaterThanOrEqual(1);
      expect(Number(overview.find((d) => d["destination"] === "slow")?.["waiting"])).toBeGreaterThanOrEqual(
        1,
      );

      expect(
        (await call("/admin/v1/destinations/slow/resume", { method: "POST", key: KEYS.operate })).status,
      ).toBe(200);
      const resumed = (await json(await call("/admin/v1/destinations", { key: KEYS.read })))[
        "destinations"
      ] as Record<string, unknown>[];
      expect(resumed.find((d) => d["destination"] === "slow")).toMatchObject({ paused: false, parked: null });
      expect((await statusOf())["slow"]).toMatchObject({ status: "pending" });

      const audit = (await json(await call("/admin/v1/audit?limit=10")))["entries"] as Record<
        string,
        unknown
      >[];
      expect(audit.map((e) => [e["action"], e["actor"], e["target"]])).toEqual(
        expect.arrayContaining([
          ["destination.pause", "operator", "slow"],
          ["destination.resume", "operator", "slow"],
        ]),
      );
    });
  });

  describe("dead letters", () => {
    it("lists with filters and paging, shows one, replays (dry run, then for real) and discards", async () => {
      badRefuses = true;
      const first = uniqueName("dl-a");
      const second = uniqueName("dl-b");
      const keyA = await send(first, "cust-dl", ["bad"]);
      const keyB = await send(second, "cust-dl", ["bad"]);
      const idA = deadLetterId(keyA, 1);
      const idB = deadLetterId(keyB, 1);
      await waitFor(
        async () =>
          (await call(`/admin/v1/destinations/bad/dead-letters/${idB}`, { key: KEYS.read })).status === 200,
        { timeoutMs: 20_000, message: "both dead-lettered" },
      );
      await waitFor(
        async () =>
          (await call(`/admin/v1/destinations/bad/dead-letters/${idA}`, { key: KEYS.read })).status === 200,
        { timeoutMs: 20_000, message: "both dead-lettered" },
      );

      const byKey = await json(
        await call(
          `/admin/v1/destinations/bad/dead-letters?key=${encodeURIComponent(keyA)}&reason=permanent`,
          { key: KEYS.read },
        ),
      );
      expect(byKey).toMatchObject({
        total: 1,
        entries: [{ id: idA, key: keyA, reason: "permanent", destination: "bad" }],
      });
      const page = await json(
        await call(`/admin/v1/destinations/bad/dead-letters?limit=1&offset=0&since=2000-01-01T00:00:00Z`, {
          key: KEYS.read,
        }),
      );
      expect((page["entries"] as unknown[]).length).toBe(1);
      expect(Number(page["total"])).toBeGreaterThanOrEqual(2);
      expect(
        (
          await json(await call(`/admin/v1/destinations/bad/dead-letters?reason=expired`, { key: KEYS.read }))
        )["total"],
      ).toBe(0);
      expect(
        (await call(`/admin/v1/destinations/bad/dead-letters?reason=nonsense`, { key: KEYS.read })).status,
      ).toBe(400);
      expect((await call(`/admin/v1/destinations/nowhere/dead-letters`, { key: KEYS.read })).status).toBe(
        404,
      );

      const shown = await json(
        await call(`/admin/v1/destinations/bad/dead-letters/${idA}`, { key: KEYS.read }),
      );
      expect(shown).toMatchObject({ id: idA, version: 1, attempts: [{ status: 422, outcome: "permanent" }] });
      expect(
        (await call(`/admin/v1/destinations/bad/dead-letters/dl.nope.v1`, { key: KEYS.read })).status,
      ).toBe(404);

      const dry = await json(
        await call(`/admin/v1/destinations/bad/dead-letters/replay`, {
          method: "POST",
          key: KEYS.operate,
          body: JSON.stringify({ ids: [idA], dry_run: true }),
        }),
      );
      expect(dry).toMatchObject({ dry_run: true, items: [{ id: idA, action: "enqueue", sendVersion: 1 }] });
      expect((await call(`/admin/v1/destinations/bad/dead-letters/${idA}`, { key: KEYS.read })).status).toBe(
        200,
      );

      badRefuses = false; // the cause is fixed
      const real = await json(
        await call(`/admin/v1/destinations/bad/dead-letters/replay`, {
          method: "POST",
          key: KEYS.operate,
          body: JSON.stringify({ filter: { key: keyA } }),
        }),
      );
      expect(real).toMatchObject({ dry_run: false, items: [{ id: idA, action: "enqueue" }] });
      await waitFor(
        async () => {
          const body = await json(await call(`/v1/handoffs?shared_id=${first}`, { key: KEYS.read }));
          return (
            (body["deliveries"] as { destination: string; status: string }[]).find(
              (d) => d.destination === "bad",
            )?.status === "delivered"
          );
        },
        { timeoutMs: 20_000, message: "replayed delivery arrives" },
      );
      expect((await call(`/admin/v1/destinations/bad/dead-letters/${idA}`, { key: KEYS.read })).status).toBe(
        404,
      );

      expect(
        (
          await call(`/admin/v1/destinations/bad/dead-letters/${idB}`, {
            method: "DELETE",
            key: KEYS.operate,
          })
        ).status,
      ).toBe(204);
      expect((await call(`/admin/v1/destinations/bad/dead-letters/${idB}`, { key: KEYS.read })).status).toBe(
        404,
      );
      expect(
        (
          await call(`/admin/v1/destinations/bad/dead-letters/${idB}`, {
            method: "DELETE",
            key: KEYS.operate,
          })
        ).status,
      ).toBe(404);
      expect(
        (
          await call(`/admin/v1/destinations/bad/dead-letters/replay`, {
            method: "POST",
            key: KEYS.operate,
            body: JSON.stringify({ ids: [idA], all: true }),
          })
        ).status,
      ).toBe(400);

      const actions = (
        (await json(await call("/admin/v1/audit?limit=20")))["entries"] as Record<string, unknown>[]
      ).map((e) => `${String(e["action"])}:${String(e["outcome"])}`);
      expect(actions).toEqual(
        expect.arrayContaining([
          "dead_letters.replay:dry_run",
          "dead_letters.replay:ok",
          "dead_letters.discard:ok",
        ]),
      );
      badRefuses = true;
    });
  });

  describe("backfill", () => {
    it("enqueues the handoffs created in a range to a destination, dry run first", async () => {
      const from = new Date().toISOString();
      const keysInRange = [
        await send(uniqueName("bf"), "cust-bf", []),
        await send(uniqueName("bf"), "cust-bf", []),
      ];
      const to = new Date(Date.now() + 1000).toISOString();
      const dry = await json(
        await call("/admin/v1/destinations/late/backfill", {
          method: "POST",
          key: KEYS.operate,
          body: JSON.stringify({ from, to, dry_run: true }),
        }),
      );
      expect(dry).toMatchObject({ destination: "late", dry_run: true, enqueued: 2, matched: 2 });
      for (const key of keysInRange)
        expect(await h.queues.get("late").deliver.getJob(deliveryJobId(key, 1))).toBeUndefined();
      const real = await json(
        await call("/admin/v1/destinations/late/backfill", {
          method: "POST",
          key: KEYS.operate,
          body: JSON.stringify({ from, to }),
        }),
      );
      expect(real).toMatchObject({ dry_run: false, enqueued: 2 });
      for (const key of keysInRange)
        expect(await (await h.queues.get("late").deliver.getJob(deliveryJobId(key, 1)))?.getState()).toBe(
          "waiting",
        );
      expect(
        (
          await call("/admin/v1/destinations/late/backfill", {
            method: "POST",
            key: KEYS.operate,
            body: JSON.stringify({ from: to, to: from }),
          })
        ).status,
      ).toBe(400);
      expect(
        (
          await call("/admin/v1/destinations/late/backfill", {
            method: "POST",
            key: KEYS.read,
            body: JSON.stringify({ from, to }),
          })
        ).status,
      ).toBe(403);
    });
  });

  describe("erasure", () => {
    it("erases everything kept about a customer id, and audits it without naming them", async () => {
      const customer = uniqueName("cust-erase");
      badRefuses = true;
      const sharedA = uniqueName("erase-a");
      const sharedB = uniqueName("erase-b");
      const keyA = await send(sharedA, customer, ["crm", "bad", "slow"]);
      const keyB = await send(sharedB, customer, ["slow"]);
      await send(sharedA, customer, ["slow"], "handoff_completed");
      await waitFor(
        async () => (await h.queues.get("bad").dead.getJob(deadLetterId(keyA, 1))) !== undefined,
        { timeoutMs: 20_000, message: "dead-lettered" },
      );
      await waitFor(async () => (await h.store.getDelivery(keyA, "crm")) !== undefined, {
        timeoutMs: 20_000,
        message: "delivered",
      });
      // An earlier admin action that names the handoff: erasure removes it from the audit trail too.
      await call("/admin/v1/destinations/bad/dead-letters/replay", {
        method: "POST",
        key: KEYS.operate,
        body: JSON.stringify({ filter: { key: keyA }, dry_run: true }),
      });

      const dry = await json(
        await call("/admin/v1/erasure", {
          method: "POST",
          body: JSON.stringify({ customer_id: customer, dry_run: true }),
        }),
      );
      expect(dry).toMatchObject({ dry_run: true, handoffs: 2, dead_letters: 1 });
      expect(await h.store.get(keyA)).toBeDefined();

      const erased = await json(
        await call("/admin/v1/erasure", { method: "POST", body: JSON.stringify({ customer_id: customer }) }),
      );
      expect(erased).toMatchObject({ dry_run: false, handoffs: 2, dead_letters: 1, jobs_active: 0 });
      expect(Number(erased["jobs"])).toBeGreaterThanOrEqual(2);
      expect(Number(erased["audit_entries"])).toBeGreaterThanOrEqual(1);

      for (const shared of [sharedA, sharedB])
        expect((await call(`/v1/handoffs?shared_id=${shared}`, { key: KEYS.read })).status).toBe(404);
      const k = h.store.keys;
      for (const key of [keyA, keyB]) {
        expect(
          await connection.exists(
            k.snapshot(key),
            k.ledger(key),
            k.attempts(key, "crm"),
            k.attempts(key, "bad"),
          ),
        ).toBe(0);
        expect(await connection.zscore(k.handoffIndex(), key)).toBeNull();
        for (const destination of ["crm", "bad", "slow"]) {
          const queue = h.queues.get(destination);
          for (const version of [1, 2])
            expect(await queue.deliver.getJob(deliveryJobId(key, version))).toBeUndefined();
          expect(await queue.dead.getJob(deadLetterId(key, 1))).toBeUndefined();
        }
      }
      // One key per EXISTS: on a Redis Cluster these keys live in different slots.
      for (const key of [
        k.alias("shared_id", sharedA),
        k.alias("id", `conv-${sharedA}`),
        k.customerIndex(customer),
      ])
        expect(await connection.exists(key)).toBe(0);
      const stream = JSON.stringify(await connection.xrange(k.audit(), "-", "+"));
      for (const needle of [customer, sharedA, sharedB, keyA, keyB]) expect(stream).not.toContain(needle);
      const last = (
        (await json(await call("/admin/v1/audit?limit=1")))["entries"] as Record<string, unknown>[]
      )[0];
      expect(last).toMatchObject({ action: "erase", actor: "root", outcome: "ok" });
      expect(String(last?.["target"])).toMatch(/^customer_id sha256:[0-9a-f]{16}$/);
      expect(
        (
          await call("/admin/v1/erasure", {
            method: "POST",
            body: JSON.stringify({ customer_id: customer, shared_id: sharedA }),
          })
        ).status,
      ).toBe(400);
    });

    it("erases one handoff by shared_id and leaves others alone", async () => {
      const keep = uniqueName("keep");
      const gone = uniqueName("gone");
      await send(keep, "cust-keep", []);
      await send(gone, "cust-gone", []);
      const erased = await json(
        await call("/admin/v1/erasure", { method: "POST", body: JSON.stringify({ shared_id: gone }) }),
      );
      expect(erased).toMatchObject({ handoffs: 1 });
      expect((await call(`/v1/handoffs?shared_id=${gone}`, { key: KEYS.read })).status).toBe(404);
      expect((await call(`/v1/handoffs?shared_id=${keep}`, { key: KEYS.read })).status).toBe(200);
    });
  });

  it("serves its OpenAPI document and counts requests by route template", async () => {
    expect(await json(await call("/openapi.json", { key: null }))).toEqual(openApiDocument());
    await call("/v1/handoffs?shared_id=metrics-probe", { key: KEYS.read });
    const text = await (await call("/metrics", { key: null })).text();
    expect(text).toMatch(
      /handoff_sync_api_requests_total\{[^}]*route="\/v1\/handoffs"[^}]*status="404"[^}]*\} \d+/,
    );
    expect(text).toContain("handoff_sync_api_request_duration_seconds_bucket");
  });
});
