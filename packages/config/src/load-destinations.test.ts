import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { loadDestinationsFile } from "./load-destinations.js";

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
    expect(config.destinations.files?.secret).toEqual(["whsec_from_file", "old"]);
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
    type: salesforce
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
        "source",
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
    expect(error.message).toMatch(/Unrecognized key.*partitions/);
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
    const error = await problemsOf(loadDestinationsFile(file, { EMPTY: "" }));
    expect(error.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "destinations.a.secret: environment variable MISSING is not set",
      "destinations.b.secret.0: environment variable EMPTY is not set",
      "destinations.b.secret.1: cannot read secret file /does/not/exist (ENOENT)",
    ]);
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
});
