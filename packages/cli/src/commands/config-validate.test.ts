import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAdapter } from "@handoff-sync/adapters";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../cli.js";
import type { CliContext } from "../command.js";

let dir: string;
let context: CliContext;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hs-cli-validate-"));
  context = { env: {}, cwd: dir, now: () => 0, createAdapter };
  await writeFile(
    join(dir, "good.yaml"),
    `version: 1
destinations:
  crm:
    type: webhook
    url: https://crm.example.com/hooks
    secret: env:CRM_SECRET
    rate_limit: { max: 50, duration_ms: 1000 }
    retry: { deadline_ms: 600000 }
routes:
  - destinations: [crm]
`,
  );
  await writeFile(
    join(dir, "broken.yaml"),
    `version: 1
destinations:
  crm:
    type: webhook
    url: not a url
    secret: env:CRM_SECRET
    retyr: { attempts: 3 }
routes:
  - destinations: [cmr]
`,
  );
});

describe("config validate", () => {
  it("accepts a good file without reading its secrets, and summarises it", async () => {
    const result = await runCli(["config", "validate", "good.yaml"], context);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatchInlineSnapshot(`
      "good.yaml is valid: 1 destination, 1 route, 0 custom states.
      Secret references were checked for form only; --resolve-secrets reads them.

      DESTINATION  TYPE     CONCURRENCY  RATE LIMIT  ATTEMPTS  DEADLINE
      crm          webhook  4            50/1000ms   8         600000ms
      "
    `);
  });

  it("resolves secrets only when asked, reporting the missing ones", async () => {
    const result = await runCli(["config", "validate", "good.yaml", "--resolve-secrets"], context);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      "good.yaml is invalid (1 problem):\ngood.yaml:6: destinations.crm.secret: environment variable CRM_SECRET is not set\n",
    );
    const resolved = await runCli(["config", "validate", "good.yaml", "--resolve-secrets"], {
      ...context,
      env: { CRM_SECRET: "s" },
    });
    expect(resolved.exitCode).toBe(0);
    expect(resolved.stdout).toContain("Every secret reference resolved.");
  });

  it("lists every problem of a broken file with line, path and the nearest valid name", async () => {
    const result = await runCli(["config", "validate", "broken.yaml"], context);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(`broken.yaml is invalid (3 problems):
broken.yaml:5: destinations.crm.url: must be an http:// or https:// URL
broken.yaml:7: destinations.crm.retyr: unknown key; did you mean "retry"?
broken.yaml:9: routes.0.destinations.0: unknown destination "cmr"; did you mean "crm"?
`);
  });

  it("prints JSON for scripts", async () => {
    const bad = await runCli(["config", "validate", "--json", "broken.yaml"], context);
    expect(bad.exitCode).toBe(1);
    expect(JSON.parse(bad.stdout)).toEqual({
      valid: false,
      file: "broken.yaml",
      problems: [
        {
          file: "broken.yaml",
          path: "destinations.crm.url",
          line: 5,
          message: "must be an http:// or https:// URL",
        },
        {
          file: "broken.yaml",
          path: "destinations.crm.retyr",
          line: 7,
          message: 'unknown key; did you mean "retry"?',
        },
        {
          file: "broken.yaml",
          path: "routes.0.destinations.0",
          line: 9,
          message: 'unknown destination "cmr"; did you mean "crm"?',
        },
      ],
    });
    const good = await runCli(["config", "validate", "good.yaml", "--json"], context);
    expect(JSON.parse(good.stdout)).toMatchObject({
      valid: true,
      secrets_resolved: false,
      destinations: [
        { name: "crm", type: "webhook", rate_limit: { max: 50, duration_ms: 1000 }, deadline_ms: 600_000 },
      ],
    });
  });

  it("defaults to $HANDOFF_SYNC_CONFIG", async () => {
    const result = await runCli(["config", "validate"], {
      ...context,
      env: { HANDOFF_SYNC_CONFIG: join(dir, "good.yaml") },
    });
    expect(result.exitCode).toBe(0);
  });

  it("is a usage error without a file or with two", async () => {
    const none = await runCli(["config", "validate"], { ...context, env: { HANDOFF_SYNC_CONFIG: " " } });
    expect(none).toMatchObject({ exitCode: 2, stdout: "" });
    expect(none.stderr).toMatch(
      /^handoff-sync: config validate: no destinations file: give FILE or set HANDOFF_SYNC_CONFIG\nusage: handoff-sync config validate/,
    );
    const two = await runCli(["config", "validate", "a.yaml", "b.yaml"], context);
    expect(two.exitCode).toBe(2);
    expect(two.stderr).toContain("too many arguments: b.yaml (expected FILE)");
  });

  it("reports a missing file as a problem, not a crash", async () => {
    const result = await runCli(["config", "validate", "absent.yaml"], context);
    expect(result).toEqual({
      exitCode: 1,
      stdout: "absent.yaml is invalid (1 problem):\nabsent.yaml: cannot read file (ENOENT)\n",
    });
  });
});

describe("config schema", () => {
  it("prints the JSON Schema", async () => {
    const result = await runCli(["config", "schema"], context);
    expect(result.exitCode).toBe(0);
    const schema = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(schema["$schema"]).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema["title"]).toBe("handoff-sync destinations file v1");
  });

  it("takes no arguments", async () => {
    expect((await runCli(["config", "schema", "x"], context)).exitCode).toBe(2);
  });
});
