import { once } from "node:events";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "./cli.js";
import type { CliContext } from "./command.js";
import { duration } from "./output.js";

/**
 * A stand-in for the admin API that answers with the documented shapes (docs/openapi.json), for
 * the CLI's formatting and exit codes. The CLI against the real services is
 * test/e2e/cli.integration.test.ts.
 */
interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly type?: string;
}
type Route = (body: unknown, query: URLSearchParams) => Answer;

let server: Server;
let url: string;
let routes = new Map<string, Route>();
const seen: { method: string; path: string; key: string | undefined; body: unknown }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const target = new URL(req.url ?? "/", "http://api");
      const text = Buffer.concat(chunks).toString("utf8");
      const body: unknown = text === "" ? undefined : JSON.parse(text);
      const key = req.headers["x-api-key"];
      seen.push({
        method: req.method ?? "",
        path: target.pathname,
        key: typeof key === "string" ? key : undefined,
        body,
      });
      const route = routes.get(`${req.method ?? ""} ${target.pathname}`);
      const answer =
        route?.(body, target.searchParams) ?? problem(404, "Not found", `no route ${target.pathname}`);
      const payload =
        answer.body === undefined
          ? ""
          : typeof answer.body === "string"
            ? answer.body
            : JSON.stringify(answer.body);
      res.writeHead(answer.status, { "content-type": answer.type ?? "application/json" }).end(payload);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, "close");
});
beforeEach(() => {
  routes = new Map();
  seen.length = 0;
});

function problem(status: number, title: string, detail: string): Answer {
  return { status, type: "application/problem+json", body: { type: "about:blank", title, status, detail } };
}

const drawn: string[] = [];
function context(env: Record<string, string> = {}, overrides: Partial<CliContext> = {}): CliContext {
  return {
    env: { HANDOFF_SYNC_API_URL: url, HANDOFF_SYNC_API_KEY: "operate-key-0123456789", ...env },
    cwd: tmpdir(),
    now: () => 0,
    createAdapter: () => {
      throw new Error("not used");
    },
    ...overrides,
  };
}

const overview = (overrides: Record<string, unknown> = {}) => ({
  destination: "crm",
  waiting: 3,
  active: 1,
  delayed: 2,
  prioritized: 0,
  failed: 0,
  dead_lettered: 4,
  paused: false,
  parked: null,
  rate_limited: false,
  rate_limit_ttl_ms: 0,
  oldest_waiting_age_ms: 125_000,
  ...overrides,
});

const deadLetter = (n: number) => ({
  v: 1,
  id: `dl.h${n}.v1`,
  key: `h${n}`,
  destination: "crm",
  version: 1,
  reason: "permanent",
  error: "webhook endpoint answered 422",
  attempts: [
    {
      attempt: 1,
      at: "2026-01-15T09:30:00.000Z",
      outcome: "permanent",
      status: 422,
      error: "webhook endpoint answered 422",
      duration_ms: 12,
    },
  ],
  dead_lettered_at: "2026-01-15T09:30:00.000Z",
});

describe("talking to the admin API", () => {
  it("sends the key from the environment, or from --api-key-file, and prints the overview as a table", async () => {
    routes.set("GET /admin/v1/destinations", () => ({
      status: 200,
      body: {
        destinations: [
          overview(),
          overview({
            destination: "zendesk",
            waiting: 0,
            dead_lettered: 0,
            paused: true,
            parked: {
              reason: "credentials refused\n(401)",
              admin_hint: "fix",
              parked_at: "2026-01-15T09:30:00Z",
              by: "worker",
            },
            rate_limited: true,
            rate_limit_ttl_ms: 4200,
          }),
        ],
      },
    }));
    const result = await runCli(["queues"], context());
    expect(result).toEqual({
      exitCode: 0,
      stdout: `DESTINATION  WAITING  ACTIVE  DELAYED  DEAD-LETTERED  RATE-LIMITED  OLDEST  STATUS
crm          3        1       2        4              no            2m05s   running
zendesk      0        1       2        0              yes (4s)      -       parked by worker: credentials refused (401)
`,
    });
    expect(seen[0]).toMatchObject({ path: "/admin/v1/destinations", key: "operate-key-0123456789" });

    const dir = await mkdtemp(join(tmpdir(), "hs-cli-key-"));
    await writeFile(join(dir, "key"), "file-key-0123456789\n");
    const fromFile = await runCli(["queues", "--json", "--api-key-file", "key"], context({}, { cwd: dir }));
    expect(JSON.parse(fromFile.stdout)).toMatchObject({
      destinations: [{ destination: "crm" }, { destination: "zendesk" }],
    });
    expect(seen[1]?.key).toBe("file-key-0123456789");
  });

  it.each([
    [401, "Unauthorized", 4],
    [403, "Forbidden", 4],
    [429, "Too many failed attempts", 4],
    [404, "Not found", 5],
    [400, "Invalid request", 2],
    [503, "Unavailable", 3],
    [500, "Internal error", 1],
  ])("maps a %i %s problem to exit %i and prints it as title: detail", async (status, title, exitCode) => {
    routes.set("GET /admin/v1/destinations", () => problem(status, title, "what happened"));
    expect(await runCli(["queues"], context())).toEqual({
      exitCode,
      stdout: "",
      stderr: `handoff-sync queues: ${title}: what happened\n`,
    });
  });

  it("reports an answer that is not the documented one, a proxy's error page, a closed port and a missing key", async () => {
    routes.set("GET /admin/v1/destinations", () => ({
      status: 200,
      body: { destinations: [{ destination: 1 }] },
    }));
    const odd = await runCli(["queues"], context());
    expect(odd.exitCode).toBe(1);
    expect(odd.stderr).toMatch(
      /^handoff-sync queues: GET \/admin\/v1\/destinations: unexpected answer from the API/,
    );

    routes.set("GET /admin/v1/destinations", () => ({
      status: 502,
      type: "text/html",
      body: "<h1>Bad Gateway</h1>",
    }));
    expect(await runCli(["queues"], context())).toMatchObject({
      exitCode: 3,
      stderr: "handoff-sync queues: HTTP 502 Bad Gateway\n",
    });

    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, "close");
    expect(
      await runCli(["queues"], context({ HANDOFF_SYNC_API_URL: `http://127.0.0.1:${port}` })),
    ).toMatchObject({
      exitCode: 3,
      stderr: `handoff-sync queues: cannot connect to http://127.0.0.1:${port}: ECONNREFUSED\n`,
    });
    expect(await runCli(["queues"], context({ HANDOFF_SYNC_API_KEY: "" }))).toMatchObject({ exitCode: 4 });
    expect(await runCli(["queues", "--api-url", "ftp://x"], context())).toMatchObject({ exitCode: 2 });
    expect(await runCli(["queues", "--api-key-file", "/nonexistent/key"], context())).toMatchObject({
      exitCode: 2,
    });
  });
});

describe("dlq", () => {
  it("lists a page with the next offset, and checks options before calling", async () => {
    routes.set("GET /admin/v1/destinations/crm/dead-letters", (_body, query) => ({
      status: 200,
      body: {
        destination: "crm",
        total: 3,
        offset: Number(query.get("offset")),
        limit: 2,
        entries: [deadLetter(1), deadLetter(2)],
      },
    }));
    const result = await runCli(
      ["dlq", "list", "--destination", "crm", "--limit", "2", "--reason", "permanent"],
      context(),
    );
    expect(result.stdout).toBe(`ID        KEY  VERSION  REASON     DEAD-LETTERED AT          ATTEMPTS  ERROR
dl.h1.v1  h1   1        permanent  2026-01-15T09:30:00.000Z  1         webhook endpoint answered 422
dl.h2.v1  h2   1        permanent  2026-01-15T09:30:00.000Z  1         webhook endpoint answered 422

3 dead letters on crm; showing 1-2. Next page: --offset 2
`);
    expect(seen.map((s) => s.path)).toEqual(["/admin/v1/destinations/crm/dead-letters"]);
    for (const argv of [
      ["dlq", "list"],
      ["dlq", "list", "--destination", "crm", "--reason", "perm"],
      ["dlq", "list", "--destination", "crm", "--since", "yesterday"],
      ["dlq", "list", "--destination", "crm", "--limit", "0"],
    ])
      expect((await runCli(argv, context())).exitCode).toBe(2);
    expect(seen).toHaveLength(1);
  });

  it("replays a filter in chunks with a progress bar, and shows what was sent", async () => {
    const entries = Array.from({ length: 250 }, (_, i) => deadLetter(i + 1));
    routes.set("GET /admin/v1/destinations/crm/dead-letters", (_body, query) => {
      const offset = Number(query.get("offset"));
      const limit = Number(query.get("limit"));
      return {
        status: 200,
        body: {
          destination: "crm",
          total: entries.length,
          offset,
          limit,
          entries: entries.slice(offset, offset + limit),
        },
      };
    });
    routes.set("POST /admin/v1/destinations/crm/dead-letters/replay", (body) => {
      const ids = (body as { ids: string[] }).ids;
      const items = ids
        .filter((id) => id !== "dl.h7.v1")
        .map((id) => ({
          id,
          key: id.split(".")[1],
          destination: "crm",
          reason: "permanent",
          deadLetteredVersion: 1,
          sendVersion: 2,
          action: id === "dl.h3.v1" ? "missing" : "enqueue",
        }));
      return { status: 200, body: { destination: "crm", dry_run: false, items } };
    });
    drawn.length = 0;
    const terminal = { write: (text: string) => void drawn.push(text), columns: 80 };
    const result = await runCli(
      ["dlq", "replay", "--destination", "crm", "--reason", "permanent"],
      context({}, { terminal }),
    );
    const replays = seen.filter((s) => s.method === "POST");
    expect(replays.map((s) => (s.body as { ids: string[] }).ids.length)).toEqual([100, 100, 50]);
    expect(drawn.at(1)).toBe(`\rReplaying [################------------------------] 100/250`);
    expect(drawn.at(-1)).toBe("\r\x1b[2K");
    // The entry whose handoff is gone and the one that vanished meanwhile make it a partial replay.
    expect(result.exitCode).toBe(1);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toMatch(/^ID\s+KEY\s+DEAD-LETTERED V\s+SENDS V\s+ACTION$/);
    expect(lines[1]).toMatch(/^dl\.h1\.v1\s+h1\s+1\s+2\s+sent$/);
    expect(lines).toContainEqual(
      expect.stringMatching(/^dl\.h3\.v1\s+h3\s+1\s+-\s+handoff gone \(entry kept\)$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^dl\.h7\.v1\s+-\s+-\s+-\s+no such dead letter$/));
    expect(result.stdout).toContain(
      "250 dead letters on crm: sent 248, already delivered 0, handoff gone 1, not found 1.\n",
    );
  });

  it("keeps what a replay did when a later chunk fails", async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `dl.h${i}.v1`);
    let calls = 0;
    routes.set("POST /admin/v1/destinations/crm/dead-letters/replay", (body) => {
      if (++calls > 1) return problem(503, "Unavailable", "Redis is not reachable");
      const items = (body as { ids: string[] }).ids.map((id) => ({
        id,
        key: "k",
        destination: "crm",
        reason: "exhausted",
        deadLetteredVersion: 1,
        sendVersion: 1,
        action: "enqueue",
      }));
      return { status: 200, body: { destination: "crm", dry_run: false, items } };
    });
    const result = await runCli(["dlq", "replay", "--destination", "crm", "--json", ...ids], context());
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      "handoff-sync dlq replay: stopped after 100 of 150: Unavailable: Redis is not reachable\n",
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ dry_run: false, not_found: [] });
    expect((JSON.parse(result.stdout) as { items: unknown[] }).items).toHaveLength(100);
  });

  it("asks for exactly one selection", async () => {
    for (const argv of [
      ["dlq", "replay", "--destination", "crm"],
      ["dlq", "replay", "--destination", "crm", "--all", "dl.x.v1"],
      ["dlq", "replay", "--destination", "crm", "--all", "--reason", "expired"],
    ])
      expect((await runCli(argv, context())).stderr).toContain("select exactly one way");
  });
});

describe("handoff get and erase", () => {
  it("shows state, history and each destination's delivery", async () => {
    routes.set("GET /v1/handoffs", () => ({
      status: 200,
      body: {
        id: "conv-1",
        shared_id: "s-1",
        key: "s-1",
        state: "customer_refund",
        stage: "initiated",
        version: 2,
        occurred_at: "2026-01-15T09:29:58Z",
        created_at: "2026-01-15T09:29:59Z",
        updated_at: "2026-01-15T09:30:01Z",
        data: {},
        history: [
          {
            event_id: "e1",
            state: "handoff_initiated",
            occurred_at: "2026-01-15T09:29:50Z",
            received_at: "2026-01-15T09:29:51Z",
          },
          {
            event_id: "e2",
            state: "customer_refund",
            occurred_at: "2026-01-15T09:29:58Z",
            received_at: "2026-01-15T09:29:59Z",
          },
        ],
        deliveries: [
          {
            destination: "crm",
            status: "delivered",
            up_to_date: true,
            delivered: { version: 2, record_id: "500x", delivered_at: "2026-01-15T09:30:01Z" },
            pending_job: null,
            dead_letter: null,
            parked: null,
            last_attempt: {
              attempt: 1,
              at: "2026-01-15T09:30:01Z",
              outcome: "success",
              status: 201,
              error: "",
            },
          },
          {
            destination: "zendesk",
            status: "dead_lettered",
            up_to_date: false,
            delivered: null,
            pending_job: null,
            dead_letter: {
              id: "dl.s-1.v2",
              version: 2,
              reason: "permanent",
              error: "422",
              dead_lettered_at: "2026-01-15T09:30:02Z",
            },
            parked: null,
            last_attempt: null,
          },
        ],
      },
    }));
    const result = await runCli(["handoff", "get", "--shared-id", "s-1"], context());
    expect(result.stdout).toBe(`id:        conv-1
shared_id: s-1
key:       s-1
state:     customer_refund (initiated)
version:   2
occurred:  2026-01-15T09:29:58Z
updated:   2026-01-15T09:30:01Z

History:
#  STATE              OCCURRED AT           RECEIVED AT           EVENT ID  NOTE
1  handoff_initiated  2026-01-15T09:29:50Z  2026-01-15T09:29:51Z  e1        -
2  customer_refund    2026-01-15T09:29:58Z  2026-01-15T09:29:59Z  e2        -

Deliveries:
DESTINATION  STATUS         UP TO DATE  LAST ATTEMPT                            DETAIL
crm          delivered      yes         #1 success 201 at 2026-01-15T09:30:01Z  v2 at 2026-01-15T09:30:01Z, record 500x
zendesk      dead_lettered  no          -                                       dl.s-1.v2 (permanent): 422
`);
    expect(seen[0]?.path).toBe("/v1/handoffs");
  });

  it("refuses to erase without --yes, and reports deliveries it could not remove", async () => {
    routes.set("POST /admin/v1/erasure", () => ({
      status: 200,
      body: {
        dry_run: false,
        handoffs: 1,
        redis_keys: 9,
        dead_letters: 0,
        jobs: 1,
        jobs_active: 1,
        audit_entries: 2,
      },
    }));
    expect((await runCli(["erase", "--customer-id", "42"], context())).exitCode).toBe(2);
    expect((await runCli(["erase", "--customer-id", "42", "--id", "x", "--yes"], context())).exitCode).toBe(
      2,
    );
    expect(seen).toHaveLength(0);
    const result = await runCli(["erase", "--customer-id", "42", "--yes"], context());
    expect(seen[0]?.body).toEqual({ customer_id: "42", dry_run: false });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(
      "1 deliveries were running and could not be removed: erase again once they finished.",
    );
  });
});

it("formats durations for people", () => {
  expect([850, 42_000, 192_000, 5 * 3600_000 + 180_000, 2 * 86_400_000 + 4 * 3600_000].map(duration)).toEqual(
    ["850ms", "42s", "3m12s", "5h03m", "2d04h"],
  );
});
