import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import {
  markdownCommands,
  planCheck,
  printedCommands,
  scriptPrograms,
  simpleCommands,
  type CheckContext,
  type DocCommand,
} from "../unit/doc-commands.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const rootScripts: Record<string, string> = (
  JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }
).scripts;
const scriptNames = new Set(Object.keys(rootScripts));

/** README, every page under docs/ (the decision records are history, not instructions) and the demo. */
function documentedCommands(): DocCommand[] {
  const pages = ["README.md"];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory() && path !== "docs/decisions") walk(path);
      else if (entry.name.endsWith(".md")) pages.push(path);
    }
  };
  walk("docs");
  return [
    ...pages.flatMap((page) => markdownCommands(page, readFileSync(join(root, page), "utf8"), scriptNames)),
    ...printedCommands("scripts/demo", readFileSync(join(root, "scripts/demo"), "utf8"), "demo", scriptNames),
  ];
}

/**
 * The PATH of a fresh machine after ./scripts/setup: the system's directories without any that
 * hold pnpm (the toolchain's bin dir, which a test run has on PATH, among them).
 */
function freshPath(): string {
  return (process.env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => dir !== "" && !existsSync(join(dir, "pnpm")) && !dir.includes("node_modules"))
    .join(delimiter);
}

const isExecutable = (path: string): boolean => {
  try {
    accessSync(join(root, path), constants.X_OK);
    return statSync(join(root, path)).isFile();
  } catch {
    return false;
  }
};

async function cliCommands(env: NodeJS.ProcessEnv): Promise<string[]> {
  const { stdout } = await run(join(root, "scripts/handoff-sync"), ["--help"], { cwd: root, env });
  const listed = stdout.slice(stdout.indexOf("Commands:"));
  return [...listed.matchAll(/^ {2}([a-z]+(?: [a-z]+)?) {2,}/gm)].map((m) => m[1] ?? "");
}

describe("every command the README, docs/ and the demo give works as written on a fresh machine", () => {
  const commands = documentedCommands();
  const env = { HOME: process.env.HOME ?? "", PATH: freshPath() };

  it("finds the commands (a page that stops being read would silently check nothing)", () => {
    const where = new Set(commands.map((c) => c.where.split(":")[0]));
    expect([...where]).toEqual(
      expect.arrayContaining(["README.md", "docs/cli.md", "docs/performance.md", "scripts/demo"]),
    );
    expect(commands.length).toBeGreaterThan(40);
  });

  it("has no pnpm on the fresh PATH, as on a new machine", async () => {
    const probe = run("bash", ["-c", "command -v pnpm"], { cwd: root, env }).then(
      () => "found",
      () => "not found",
    );
    await expect(probe).resolves.toBe("not found");
  });

  it("runs each one, or checks what it runs exists when it is long-running", async () => {
    const context: CheckContext = {
      rootScripts: scriptNames,
      cliCommands: await cliCommands(env),
      exists: (path) => existsSync(join(root, path)),
    };
    expect(context.cliCommands).toEqual(expect.arrayContaining(["config validate", "queues", "dlq replay"]));
    const problems: string[] = [];
    const ran = new Map<string, string>();
    for (const command of commands) {
      for (const simple of simpleCommands(command.text)) {
        const check = planCheck(simple, context);
        const at = `${command.where}: ${command.text}`;
        if (check.kind === "fail") {
          problems.push(`${at}\n    ${check.reason}`);
        } else if (check.kind === "resolve") {
          if (
            !isExecutable(check.executable) &&
            !(simple.program === "bash" && context.exists(check.executable))
          ) {
            problems.push(`${at}\n    ${check.executable} is not an executable file`);
          }
          for (const path of check.paths) {
            if (!context.exists(path)) problems.push(`${at}\n    ${path} does not exist (after the build)`);
          }
          if (check.script !== undefined) {
            // The script's own programs must resolve too: ./scripts/... or node_modules/.bin/...
            for (const program of scriptPrograms(rootScripts[check.script] ?? "")) {
              const found = program.includes("/")
                ? isExecutable(program.replace(/^\.\//, ""))
                : existsSync(join(root, "node_modules/.bin", program));
              if (!found)
                problems.push(`${at}\n    script ${check.script} runs ${program}, which is not there`);
            }
          }
        } else {
          const key = JSON.stringify(check);
          if (ran.has(key)) continue;
          const [program = "", ...args] = check.argv;
          const outcome = await run(join(root, program), args, {
            cwd: root,
            env: { ...env, ...check.env },
            timeout: 60_000,
          }).then(
            () => "ok",
            (error: { code?: unknown; stderr?: string }) =>
              `exit ${String(error.code)}: ${error.stderr ?? ""}`,
          );
          ran.set(key, outcome);
          if (outcome !== "ok") problems.push(`${at}\n    ran ${check.argv.join(" ")}: ${outcome.trim()}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The offline commands were run for real, not only their help.
    expect([...ran.keys()].some((k) => k.includes('"config","validate","examples/webhook.yaml"'))).toBe(true);
  });
});
