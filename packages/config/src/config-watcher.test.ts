import { mkdtemp, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ConfigError } from "./config-error.js";
import { watchConfig, type ConfigWatcher } from "./config-watcher.js";
import type { LoadedConfig } from "./load-destinations.js";

const fileFor = (url: string): string => `version: 1
destinations:
  crm:
    type: webhook
    url: ${url}
    secret: env:CRM_SECRET
`;

const env = { CRM_SECRET: "whsec_dGVzdA==" };

function recorder() {
  const lines: { level: string; fields: object; message: string }[] = [];
  const at = (level: string) => (fields: object, message: string) =>
    void lines.push({ level, fields, message });
  return { lines, log: { info: at("info"), warn: at("warn"), error: at("error") } };
}

describe("watchConfig", () => {
  let dir: string;
  let path: string;
  let watcher: ConfigWatcher | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "hs-watch-"));
    path = join(dir, "destinations.yaml");
    await writeFile(path, fileFor("https://one.example.com/hooks"));
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
  });

  it("applies a valid change of the file, once, after the writes settle", async () => {
    const changes: LoadedConfig[] = [];
    const { log } = recorder();
    watcher = watchConfig(path, env, {
      onChange: (config) => void changes.push(config),
      log,
      debounceMs: 50,
      trigger: () => () => undefined,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    // An editor's save: write a temporary file, then rename it over the original.
    const temporary = join(dir, "destinations.yaml.tmp");
    await writeFile(temporary, fileFor("https://two.example.com/hooks"));
    await rename(temporary, path);
    await vi.waitFor(() => expect(changes).toHaveLength(1), { timeout: 5000 });
    const crm = changes[0]?.destinations["crm"];
    expect(crm?.type === "webhook" ? crm.url : undefined).toBe("https://two.example.com/hooks");
    expect(crm?.type === "webhook" ? crm.secret : undefined).toEqual([env.CRM_SECRET]);
    // Touching the file without changing it reloads nothing.
    await writeFile(path, fileFor("https://two.example.com/hooks"));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(changes).toHaveLength(1);
  });

  it("refuses an invalid change with every problem logged and keeps the current config", async () => {
    const changes: LoadedConfig[] = [];
    const refused: ConfigError[] = [];
    const { lines, log } = recorder();
    watcher = watchConfig(
      path,
      {},
      {
        onChange: (config) => void changes.push(config),
        onInvalid: (error) => void refused.push(error),
        log,
        debounceMs: 50,
        trigger: () => () => undefined,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writeFile(
      path,
      "version: 1\ndestinations:\n  crm:\n    type: webhook\n    url: not a url\n    secret: env:CRM_SECRET\n    concurency: 3\n",
    );
    await vi.waitFor(() => expect(refused).toHaveLength(1), { timeout: 5000 });
    expect(changes).toEqual([]);
    const paths = refused[0]?.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(["destinations.crm.url", "destinations.crm.concurency"]));
    const logged = lines.find((line) => line.message.startsWith("configuration reload refused"));
    expect(logged?.level).toBe("error");
    const problems = (logged?.fields as { problems: string[] }).problems;
    expect(problems).toHaveLength(refused[0]?.problems.length ?? -1);
    expect(problems.join("\n")).toContain("concurrency");
  });

  it("reloads on the injected trigger (SIGHUP in production), even when the text is unchanged", async () => {
    const changes: LoadedConfig[] = [];
    let fire: (() => void) | undefined;
    const { log } = recorder();
    watcher = watchConfig(path, env, {
      onChange: (config) => void changes.push(config),
      log,
      trigger: (reload) => {
        fire = reload;
        return () => {
          fire = undefined;
        };
      },
    });
    fire?.();
    await vi.waitFor(() => expect(changes).toHaveLength(1), { timeout: 5000 });
    // A secret reference resolves again on a forced reload: rotation through SIGHUP.
    expect(await watcher.reload()).toBe("applied");
    expect(changes).toHaveLength(2);
    // A refused config on the trigger: result says so, nothing applied.
    await writeFile(path, "version: 2\n");
    expect(await watcher.reload()).toBe("refused");
    expect(changes).toHaveLength(2);
    await watcher.stop();
    expect(fire).toBeUndefined();
  });

  it("reports a failure of the caller's apply without stopping later reloads", async () => {
    let calls = 0;
    const { lines, log } = recorder();
    watcher = watchConfig(path, env, {
      onChange: () => {
        calls++;
        if (calls === 1) throw new Error("boom");
      },
      log,
      trigger: () => () => undefined,
    });
    expect(await watcher.reload()).toBe("failed");
    expect(await watcher.reload()).toBe("applied");
    expect(lines.some((line) => line.message === "configuration reload failed while applying")).toBe(true);
  });

  it("refuses a reloaded file whose secret reference points outside the secret directories", async () => {
    const changes: LoadedConfig[] = [];
    const refused: ConfigError[] = [];
    const { log } = recorder();
    watcher = watchConfig(path, env, {
      onChange: (config) => void changes.push(config),
      onInvalid: (error) => void refused.push(error),
      log,
      trigger: () => () => undefined,
    });
    // /etc/hostname stands for any file the service can read: a token, a key.
    await writeFile(
      path,
      fileFor("https://attacker.example.com/hooks").replace("env:CRM_SECRET", "file:/etc/hostname"),
    );
    expect(await watcher.reload()).toBe("refused");
    expect(changes).toEqual([]);
    expect(refused[0]?.problems).toEqual([
      expect.objectContaining({
        path: "destinations.crm.secret",
        message: expect.stringMatching(
          /^secret file \/etc\/hostname is outside the secret directories/,
        ) as unknown,
      }),
    ]);
  });
});
