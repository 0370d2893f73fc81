import { mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { loadDestinationsFile, readDestinationsFile, withPlaceholderSecrets } from "./load-destinations.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hs-config-"));
});

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function problemsOf(promise: Promise<unknown>): Promise<ConfigError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

const valid = `
version: 1
states:
  customer_refund: initiated
destinations:
  demo:
    type: webhook
    url: https://crm.example.com/hooks
    secret: env:DEMO_SECRET
  files:
    type: webhook
    url: https://other.example.com/hooks
    secret: [file:secret.txt, env:OLD_SECRET]
    retry: { attempts: 3 }
routes:
  - match: { states: [customer_refund, handoff_failed] }
    destinations: [demo]
  - destinations: [files]
`;

describe("loadDestinationsFile", () => {
  it("validates, applies defaults and resolves secrets", async () => {
    await write("secret.txt", "whsec_from_file\n");
    const config = await loadDestinationsFile(await write("valid.yaml", valid), {
      DEMO_SECRET: "whsec_env",
      OLD_SECRET: "old",
    });
    expect(config.source).toEqual({
      topic: "handoff.events",
      rejected_topic: "handoff.events.dlq",
      max_message_bytes: 1_048_576,
      limits: {
        max_depth: 32,
        max_keys: 10_000,
        max_string_length: 65_536,
        max_snapshot_bytes: 2_097_152,
        max_clock_skew_ms: 300_000,
      },
      format: "handoff_event",
    });
    expect(config.destinations.demo).toEqual({
      type: "webhook",
      url: "https://crm.example.com/hooks",
      secret: ["whsec_env"],
      allow_private_network: false,
      timeout_ms: 10_000,
      concurrency: 4,
      retry: { attempts: 8, base_delay_ms: 1_000, max_delay_ms: 300_000 },
    });
    const files = config.destinations.files;
    expect(files?.type === "webhook" ? files.secret : undefined).toEqual(["whsec_from_file", "old"]);
    expect(config.destinations.files?.retry.attempts).toBe(3);
    expect(config.states).toEqual({ customer_refund: "initiated" });
  });

  it("reports every problem of a broken file at once, with file, dotted path and line", async () => {
    const file = await write(
      "broken.yaml",
      `version: 1
source:
  topic: handoff.events
  partitions: 3
states:
  handoff_completed: completed
destinations:
  demo:
    type: webhook
    url: not a url
    secret: hunter2
    timeout_ms: -5
  Bad_Name:
    type: webhook
    url: https://x.example.com
    secret: env:X
  sf:
    type: sugarcrm
routes:
  - match: { states: [nope], stages: [done] }
    destinations: [demo, ghost]
`,
    );
    const error = await problemsOf(loadDestinationsFile(file, {}));
    const byPath = new Map(error.problems.map((p) => [p.path, p]));
    expect(error.problems.every((p) => p.file === file)).toBe(true);
    expect([...byPath.keys()]).toEqual(
      expect.arrayContaining([
        "source.partitions",
        "destinations.demo.url",
        "destinations.demo.secret",
        "destinations.demo.timeout_ms",
        "destinations.Bad_Name",
        "destinations.sf.type",
        "routes.0.match.stages.0",
      ]),
    );
    expect(byPath.get("destinations.demo.url")?.line).toBe(10);
    expect(byPath.get("destinations.demo.secret")?.message).toMatch(
      /must not be written into the config file.*env:VAR_NAME.*file:/,
    );
    expect(error.message).toContain(
      `${file}: destinations.demo.url: must be an http:// or https:// URL (line 10)`,
    );
    expect(byPath.get("source.partitions")).toMatchObject({
      line: 4,
      message:
        "unknown key; expected one of: topic, rejected_topic, max_message_bytes, limits, format, chat_respond, sip_headers, enrichment",
    });
    expect(byPath.get("destinations.sf.type")?.message).toMatch(
      /^unknown type "sugarcrm"; expected one of: webhook, /,
    );
    expect(error.message.split("\n").length).toBe(error.problems.length + 1);
  });

  it("reports cross-reference problems: unknown destinations and states, redeclared lifecycle states", async () => {
    const file = await write(
      "refs.yaml",
      `version: 1
states:
  handoff_completed: completed
destinations:
  demo: { type: webhook, url: "https://x.example.com", secret: "env:S" }
routes:
  - match: { states: [nope, handoff_failed] }
    destinations: [demo, ghost]
`,
    );
    const error = await problemsOf(loadDestinationsFile(file, { S: "s" }));
    expect(error.problems.map((p) => [p.path, p.line])).toEqual(
      expect.arrayContaining([
        ["states.handoff_completed", 3],
        ["routes.0.destinations.1", 8],
        ["routes.0.match.states.0", 7],
      ]),
    );
    expect(error.problems).toHaveLength(3);
  });

  it("reports missing secrets with the path that references them", async () => {
    const file = await write(
      "secrets.yaml",
      `version: 1
destinations:
  a: { type: webhook, url: "https://x.example.com", secret: "env:MISSING" }
  b: { type: webhook, url: "https://y.example.com", secret: ["env:EMPTY", "file:/does/not/exist"] }
`,
    );
    const error = await problemsOf(loadDestinationsFile(file, { EMPTY: "", HANDOFF_SECRETS_DIRS: "/does" }));
    expect(error.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "destinations.a.secret: environment variable MISSING is not set",
      "destinations.b.secret.0: environment variable EMPTY is not set",
      "destinations.b.secret.1: cannot read secret file /does/not/exist (ENOENT)",
    ]);
  });

  describe("where secret references may point", () => {
    const referencing = (name: string, secret: string): Promise<string> =>
      write(
        name,
        `version: 1\ndestinations:\n  crm: { type: webhook, url: "https://crm.example.com", secret: "${secret}" }\n`,
      );

    it("reads file: only inside the destinations file's directory by default", async () => {
      await write("beside.txt", "whsec_beside\n");
      const ok = await loadDestinationsFile(await referencing("beside.yaml", "file:beside.txt"), {});
      expect(ok.destinations.crm).toMatchObject({ secret: ["whsec_beside"] });

      const outside = await mkdtemp(join(tmpdir(), "hs-elsewhere-"));
      await writeFile(join(outside, "token"), "a-token-the-service-can-read\n");
      for (const [name, ref] of [
        ["absolute.yaml", `file:${join(outside, "token")}`],
        ["dotdot.yaml", `file:../${basename(outside)}/token`],
      ] as const) {
        const error = await problemsOf(loadDestinationsFile(await referencing(name, ref), {}));
        expect(error.problems).toEqual([
          expect.objectContaining({
            path: "destinations.crm.secret",
            message: `secret file ${join(outside, "token")} is outside the secret directories (${dir}); list its directory in HANDOFF_SECRETS_DIRS`,
          }),
        ]);
        expect(JSON.stringify(error.problems)).not.toContain("a-token-the-service-can-read");
      }
      // Listed, it is read.
      const listed = await loadDestinationsFile(
        await referencing("listed.yaml", `file:${join(outside, "token")}`),
        { HANDOFF_SECRETS_DIRS: `/nowhere,${outside}` },
      );
      expect(listed.destinations.crm).toMatchObject({ secret: ["a-token-the-service-can-read"] });
    });

    it("does not follow a symlink out of an allowed directory", async () => {
      const outside = await mkdtemp(join(tmpdir(), "hs-elsewhere-"));
      await writeFile(join(outside, "key"), "private-key\n");
      await symlink(join(outside, "key"), join(dir, "innocent-link"));
      const error = await problemsOf(
        loadDestinationsFile(await referencing("link.yaml", "file:innocent-link"), {}),
      );
      expect(error.problems[0]?.message).toMatch(/is outside the secret directories/);
    });

    it("refuses env: references to the service's own credentials, and a relative HANDOFF_SECRETS_DIRS", async () => {
      const error = await problemsOf(
        loadDestinationsFile(await referencing("own.yaml", "env:REDIS_PASSWORD"), {
          REDIS_PASSWORD: "redis-pw",
        }),
      );
      expect(error.problems).toEqual([
        expect.objectContaining({
          path: "destinations.crm.secret",
          message: "env:REDIS_PASSWORD is one of the service's own credentials; a destination cannot use it",
        }),
      ]);
      const relativeDirs = await problemsOf(
        loadDestinationsFile(await referencing("rel.yaml", "env:S"), {
          S: "s",
          HANDOFF_SECRETS_DIRS: "secrets",
        }),
      );
      expect(relativeDirs.problems).toEqual([
        { path: "HANDOFF_SECRETS_DIRS", message: "must list absolute directories; not absolute: secrets" },
      ]);
    });
  });

  it("reports YAML syntax errors with their line", async () => {
    const file = await write("syntax.yaml", "version: 1\ndestinations:\n  a: [unclosed\n");
    const error = await problemsOf(loadDestinationsFile(file, {}));
    expect(error.problems[0]?.line).toBeGreaterThan(0);
  });

  it("reports a missing file", async () => {
    const error = await problemsOf(loadDestinationsFile(join(dir, "absent.yaml"), {}));
    expect(error.problems[0]?.message).toMatch(/ENOENT/);
  });

  it("names the nearest valid key for a misspelt one, at every depth and inside each destination type", async () => {
    const file = await write(
      "typos.yaml",
      `version: 1
destinations:
  crm:
    type: webhook
    url: https://crm.example.com/hooks
    secrets: env:S
    retyr:
      attempts: 3
    rate_limit: { max: 10, duration: 1000 }
    mapping:
      subject: { template: "Handoff {{key}}", truncat: 80 }
  other:
    type: webhok
routes:
  - match: { stage: [failed] }
    destinations: [crn]
    on_fail: [crm]
`,
    );
    const error = await problemsOf(loadDestinationsFile(file, { S: "s" }));
    expect(error.problems.map((p) => [p.path, p.message, p.line])).toEqual(
      expect.arrayContaining([
        ["destinations.crm.secrets", 'unknown key; did you mean "secret"?', 6],
        ["destinations.crm.retyr", 'unknown key; did you mean "retry"?', 7],
        ["destinations.crm.rate_limit.duration", 'unknown key; did you mean "duration_ms"?', 9],
        ["destinations.crm.mapping.subject.truncat", 'unknown key; did you mean "truncate"?', 11],
        [
          "destinations.other.type",
          expect.stringMatching(
            /^unknown type "webhok"; did you mean "webhook"\?; expected one of: webhook, /,
          ),
          13,
        ],
        ["routes.0.match.stage", 'unknown key; did you mean "stages"?', 15],
        ["routes.0.on_fail", 'unknown key; did you mean "on_failed"?', 17],
      ]),
    );
    expect(error.message).toContain(
      `${file}: destinations.crm.retyr: unknown key; did you mean "retry"? (line 7)`,
    );
  });

  it("checks routes: fallbacks, labels, and names with the nearest declared one", async () => {
    const file = await write(
      "routes.yaml",
      `version: 1
states:
  no_agent_available: failed
destinations:
  crm: { type: webhook, url: "https://x.example.com", secret: "env:S" }
  callback: { type: webhook, url: "https://y.example.com", secret: "env:S" }
routes:
  - match: { states: [handoff_failed, no_agent_availabel], channels: [voice], destinations: [billing_queue], reasons: [refund] }
    destinations: [cmr]
    on_failed: [callbak]
  - match: { stages: [initiated] }
    destinations: [crm]
    on_failed: [callback]
  - match: { states: [handoff_completed] }
    destinations: [crm]
    on_failed: [callback]
`,
    );
    const error = await problemsOf(loadDestinationsFile(file, { S: "s" }));
    expect(error.problems.map((p) => [p.path, p.message, p.line])).toEqual([
      ["routes.0.destinations.0", 'unknown destination "cmr"; did you mean "crm"?', 9],
      ["routes.0.on_failed.0", 'unknown destination "callbak"; did you mean "callback"?', 10],
      [
        "routes.0.match.states.1",
        'unknown state "no_agent_availabel"; did you mean "no_agent_available"?: use a lifecycle state (handoff_initiated, handoff_completed, handoff_failed) or declare it under "states"',
        8,
      ],
      ["routes.1.on_failed", 'never used: match.stages does not include "failed"', 13],
      ["routes.2.on_failed", "never used: none of match.states is at stage failed", 16],
    ]);
  });

  it("accepts routing on labels, fallbacks and a rate limit", async () => {
    const file = await write(
      "full.yaml",
      `version: 1
states:
  no_agent_available: failed
destinations:
  crm:
    type: webhook
    url: https://x.example.com
    secret: env:S
    rate_limit: { max: 100, duration_ms: 10000 }
  callback: { type: webhook, url: "https://y.example.com", secret: "env:S" }
routes:
  - match: { channels: [voice], destinations: [billing_queue], reasons: [refund] }
    destinations: [crm]
    on_failed: [callback]
`,
    );
    const config = await loadDestinationsFile(file, { S: "s" });
    expect(config.destinations.crm?.rate_limit).toEqual({ max: 100, duration_ms: 10_000 });
    expect(config.routes?.[0]?.on_failed).toEqual(["callback"]);
  });

  it("validates without resolving secrets, and can put placeholders in their place", async () => {
    const file = await write(
      "unresolved.yaml",
      `version: 1
destinations:
  a: { type: webhook, url: "https://x.example.com", secret: "env:NOT_SET_ANYWHERE" }
`,
    );
    const config = await readDestinationsFile(file);
    expect(String(config.destinations.a?.type === "webhook" ? config.destinations.a.secret[0] : "")).toBe(
      "env:NOT_SET_ANYWHERE",
    );
    expect(withPlaceholderSecrets(config).destinations.a).toMatchObject({ secret: ["****"] });
    await expect(loadDestinationsFile(file, {})).rejects.toThrow(/NOT_SET_ANYWHERE is not set/);
  });
});
