import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  freePort,
  PIPELINE_API_KEYS,
  startFakeServer,
  startPipeline,
  uniqueName,
  waitFor,
  type FakeServer,
  type Pipeline,
} from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";

// The built CLI as SREs run it; the test command builds (tsc -b tsconfig.build.json) first.
const main = fileURLToPath(new URL("../../packages/cli/dist/main.js", import.meta.url));

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const ExecFailureSchema = z.object({ code: z.number(), stdout: z.string(), stderr: z.string() });

/** Runs `handoff-sync` as a child process with only the environment a shell would give it. */
function runCli(args: readonly string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [main, ...args],
      { env: { PATH: process.env["PATH"] ?? "", ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ code: 0, stdout, stderr });
        const failure = ExecFailureSchema.safeParse({ code: error.code, stdout, stderr });
        if (failure.success) resolve(failure.data);
        else reject(new Error(`handoff-sync did not run: ${error.message}`, { cause: error }));
      },
    );
  });
}

/** The parts of the answers this test reads; the CLI's `--json` is the API's JSON. */
const OverviewSchema = z.object({
  destinations: z.array(
    z.object({
      destination: z.string(),
      dead_lettered: z.number(),
      paused: z.boolean(),
      parked: z.object({ reason: z.string(), by: z.string() }).nullable(),
    }),
  ),
});
const DeadLetterPageSchema = z.object({
  total: z.number(),
  entries: z.array(z.object({ id: z.string(), key: z.string(), reason: z.string(), version: z.number() })),
});
const ReplaySchema = z.object({
  destination: z.string(),
  dry_run: z.boolean(),
  items: z.array(z.object({ id: z.string(), action: z.string() })),
  not_found: z.array(z.string()),
});
const HandoffSchema = z.object({
  key: z.string(),
  shared_id: z.string().nullable(),
  version: z.number(),
  deliveries: z.array(z.object({ destination: z.string(), status: z.string(), up_to_date: z.boolean() })),
});
const WebhookSchema = z.object({ data: z.object({ key: z.string(), version: z.number() }) });

function event(sharedId: string): Record<string, unknown> {
  return {
    schema_version: 1,
    event_id: randomUUID(),
    id: `conv-${sharedId}`,
    shared_id: sharedId,
    state: "handoff_initiated",
    occurred_at: new Date().toISOString(),
    data: { customer_id: "42" },
  };
}

describe("handoff-sync CLI against the running services (child processes, real Kafka and Redis)", () => {
  let pipeline: Pipeline;
  let receiver: FakeServer;
  /** The receiver refuses every record (422, permanent) until healed. */
  let healthy = false;
  const received: { key: string; version: number }[] = [];
  const sharedId = uniqueName("cli");
  let key = "";
  let deadLetterId = "";
  let readKeyFile = "";

  const cli = (args: readonly string[], scope: keyof typeof PIPELINE_API_KEYS = "operate") =>
    runCli(args, { HANDOFF_SYNC_API_URL: pipeline.apiUrl, HANDOFF_SYNC_API_KEY: PIPELINE_API_KEYS[scope] });
  const json = async <S extends z.ZodType>(args: readonly string[], schema: S): Promise<z.infer<S>> => {
    const run = await cli([...args, "--json"]);
    expect(run, run.stderr).toMatchObject({ code: 0 });
    return schema.parse(JSON.parse(run.stdout));
  };
  const crm = async () => {
    const overview = await json(["queues"], OverviewSchema);
    const row = overview.destinations.find((d) => d.destination === "crm");
    if (row === undefined) throw new Error("no crm row in the overview");
    return row;
  };

  beforeAll(async () => {
    receiver = await startFakeServer((request) => {
      if (!healthy) return { status: 422, body: { error: "unknown field customer_tier" } };
      const payload = WebhookSchema.safeParse(request.body);
      if (payload.success) received.push(payload.data.data);
      return { status: 204 };
    });
    pipeline = await startPipeline({
      kafkaBrokers: inject("kafkaBrokers"),
      redisUrl: inject("redisUrl"),
      redisCluster: inject("redisCluster"),
      receiverUrl: `${receiver.url}/hooks`,
      retry: { attempts: 2, base_delay_ms: 100, max_delay_ms: 200 },
    });
    const dir = await mkdtemp(join(tmpdir(), "hs-cli-e2e-"));
    readKeyFile = join(dir, "read.key");
    await writeFile(readKeyFile, `${PIPELINE_API_KEYS.read}\n`);
  });
  afterAll(async () => {
    await pipeline.stop();
    await receiver.close();
  });

  it("shows a dead-lettered handoff in queues, dlq list, dlq show, handoff get and a dry-run replay", async () => {
    await pipeline.produce([event(sharedId)]);
    const row = await waitFor(
      async () => {
        const current = await crm();
        return current.dead_lettered === 1 ? current : undefined;
      },
      { timeoutMs: 60_000, message: "the handoff dead-lettered" },
    );
    expect(row).toMatchObject({ paused: false, parked: null });

    const table = await cli(["queues"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      /^DESTINATION\s+WAITING\s+ACTIVE\s+DELAYED\s+DEAD-LETTERED\s+RATE-LIMITED\s+OLDEST\s+STATUS\n/,
    );
    expect(table.stdout).toMatch(/\ncrm\s+0\s+0\s+0\s+1\s+no\s+-\s+running\n/);

    const page = await json(["dlq", "list", "--destination", "crm"], DeadLetterPageSchema);
    expect(page.total).toBe(1);
    const [entry] = page.entries;
    expect(entry).toMatchObject({ reason: "permanent", version: 1 });
    deadLetterId = entry?.id ?? "";
    key = entry?.key ?? "";
    const list = await cli(["dlq", "list", "--destination", "crm", "--reason", "permanent"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(deadLetterId);
    expect(list.stdout).toMatch(
      new RegExp(`\\n${deadLetterId.replaceAll(".", "\\.")}\\s+${key}\\s+1\\s+permanent\\s`),
    );
    expect(list.stdout).toContain("1 dead letter on crm; showing 1-1.");

    const show = await cli(["dlq", "show", "--destination", "crm", deadLetterId]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/reason:\s+permanent/);
    expect(show.stdout).toMatch(/\n1\s+\S+\s+permanent\s+422\s/);

    const handoff = await json(["handoff", "get", "--shared-id", sharedId], HandoffSchema);
    expect(handoff.deliveries).toEqual([{ destination: "crm", status: "dead_lettered", up_to_date: false }]);

    const dry = await cli(["dlq", "replay", "--destination", "crm", "--all", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      new RegExp(`${deadLetterId.replaceAll(".", "\\.")}\\s+${key}\\s+1\\s+1\\s+would send\\n`),
    );
    expect(dry.stdout).toContain("Dry run: nothing was sent or removed. 1 dead letter on crm: would send 1,");
    // A dry run changes nothing.
    expect((await crm()).dead_lettered).toBe(1);
  });

  it("refuses a replay with a read-only key (exit 4) and answers exit 5 for what does not exist", async () => {
    const forbidden = await runCli(
      ["dlq", "replay", "--destination", "crm", "--all", "--api-key-file", readKeyFile],
      {
        HANDOFF_SYNC_API_URL: pipeline.apiUrl,
      },
    );
    expect(forbidden).toMatchObject({ code: 4, stdout: "" });
    expect(forbidden.stderr).toBe(
      "handoff-sync dlq replay: Forbidden: the key pipeline-read lacks the operate scope\n",
    );
    expect((await cli(["dlq", "replay", "--destination", "crm", deadLetterId], "read")).code).toBe(4);
    expect((await cli(["queues"], "read")).code).toBe(0);

    const unknown = await cli(["dlq", "list", "--destination", "nowhere"]);
    expect(unknown).toMatchObject({
      code: 5,
      stderr: "handoff-sync dlq list: Not found: no destination nowhere\n",
    });
    expect((await cli(["dlq", "show", "--destination", "crm", "dl.nothing.v1"])).code).toBe(5);
    expect((await cli(["dlq", "replay", "--destination", "crm", "dl.nothing.v1"])).code).toBe(5);

    const refused = await runCli(["queues"], {
      HANDOFF_SYNC_API_URL: pipeline.apiUrl,
      HANDOFF_SYNC_API_KEY: "not-a-valid-key-at-all",
    });
    expect(refused).toMatchObject({
      code: 4,
      stderr: "handoff-sync queues: Unauthorized: the API key is not valid\n",
    });
    const closed = await runCli(["queues"], {
      HANDOFF_SYNC_API_URL: `http://127.0.0.1:${await freePort()}`,
      HANDOFF_SYNC_API_KEY: PIPELINE_API_KEYS.read,
    });
    expect(closed.code).toBe(3);
    expect(closed.stderr).toMatch(
      /^handoff-sync queues: cannot connect to http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\n$/,
    );
  });

  it("replays the dead letter once the receiver is healed: the receiver gets it and handoff get shows it delivered", async () => {
    healthy = true;
    const replay = await cli(["dlq", "replay", "--destination", "crm", "--all", "--json"]);
    expect(replay.code).toBe(0);
    expect(ReplaySchema.parse(JSON.parse(replay.stdout))).toEqual({
      destination: "crm",
      dry_run: false,
      items: [expect.objectContaining({ id: deadLetterId, action: "enqueue" })],
      not_found: [],
    });
    await waitFor(() => received.some((r) => r.key === key && r.version === 1), {
      timeoutMs: 30_000,
      message: "the receiver got the replayed delivery",
    });
    const handoff = await waitFor(
      async () => {
        const current = await json(["handoff", "get", "--shared-id", sharedId], HandoffSchema);
        return current.deliveries[0]?.status === "delivered" ? current : undefined;
      },
      { timeoutMs: 30_000, message: "delivered" },
    );
    expect(handoff).toMatchObject({ key, shared_id: sharedId, version: 1 });
    expect(handoff.deliveries).toEqual([{ destination: "crm", status: "delivered", up_to_date: true }]);

    const text = await cli(["handoff", "get", "--shared-id", sharedId], "read");
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^id:\s+conv-/);
    expect(text.stdout).toMatch(/\nstate:\s+handoff_initiated \(initiated\)\n/);
    expect(text.stdout).toMatch(
      /\nDeliveries:\nDESTINATION\s+STATUS\s+UP TO DATE\s+LAST ATTEMPT\s+DETAIL\ncrm\s+delivered\s+yes\s+/,
    );
    expect((await crm()).dead_lettered).toBe(0);
    // Nothing is left to replay, and saying so is not an error.
    expect(await cli(["dlq", "replay", "--destination", "crm", "--all"])).toMatchObject({
      code: 0,
      stdout: "No dead letters on crm; nothing to replay.\n",
    });
  });

  it("pauses and resumes a destination, which the overview shows", async () => {
    const pause = await cli(["destinations", "pause", "crm", "--reason", "CRM maintenance window"]);
    expect(pause.code).toBe(0);
    expect(pause.stdout).toMatch(/^crm is parked since \S+ by pipeline-operate: CRM maintenance window\n/);
    expect(await crm()).toMatchObject({
      paused: true,
      parked: { reason: "CRM maintenance window", by: "pipeline-operate" },
    });
    expect((await cli(["queues"])).stdout).toMatch(
      /\ncrm\s.*\sparked by pipeline-operate: CRM maintenance window\n/,
    );

    const resume = await cli(["destinations", "resume", "crm"]);
    expect(resume).toMatchObject({
      code: 0,
      stdout: "crm is resumed; its waiting jobs are being delivered.\n",
    });
    expect(await crm()).toMatchObject({ paused: false, parked: null });
    expect((await cli(["queues"])).stdout).toMatch(/\ncrm\s.*\srunning\n/);
  });

  it("erases the handoff only with --yes; handoff get then exits 5", async () => {
    const refused = await cli(["erase", "--shared-id", sharedId], "admin");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("erasure is final and cannot be undone: add --yes");
    expect((await cli(["erase", "--shared-id", sharedId, "--yes"], "operate")).code).toBe(4);

    const erased = await cli(["erase", "--shared-id", sharedId, "--yes"], "admin");
    expect(erased.code).toBe(0);
    expect(erased.stdout).toMatch(
      new RegExp(
        `^Erased shared_id ${sharedId}:\\nHANDOFFS\\s+REDIS KEYS\\s+DEAD LETTERS\\s+JOBS\\s+JOBS RUNNING\\s+AUDIT ENTRIES\\n1\\s+[1-9]`,
      ),
    );
    const gone = await cli(["handoff", "get", "--shared-id", sharedId], "read");
    expect(gone).toMatchObject({
      code: 5,
      stdout: "",
      stderr: `handoff-sync handoff get: Handoff not found: no handoff with shared_id ${sharedId}\n`,
    });
  });
});
