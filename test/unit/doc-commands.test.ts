import { describe, expect, it } from "vitest";
import {
  isRepositoryCommand,
  markdownCommands,
  planCheck,
  printedCommands,
  scriptPrograms,
  shellWords,
  simpleCommands,
  type CheckContext,
} from "./doc-commands.js";

const scripts = new Set(["bench", "test:chaos", "build", "handoff-sync"]);
const fence = "```";

describe("shellWords and simpleCommands", () => {
  it("splits on spaces, keeps quoted words whole, and separates chained commands and redirections", () => {
    expect(shellWords(`a "b c" 'd e' f`)).toEqual(["a", "b c", "d e", "f"]);
    expect(simpleCommands("A=1 B=x=y ./scripts/pnpm bench && ./scripts/node x.js /tmp/p > out 2>&1")).toEqual(
      [
        { env: { A: "1", B: "x=y" }, program: "./scripts/pnpm", args: ["bench"] },
        { env: {}, program: "./scripts/node", args: ["x.js", "/tmp/p"] },
      ],
    );
  });
});

describe("isRepositoryCommand", () => {
  it("knows the repository's programs and the ones a reader expects on PATH", () => {
    expect(isRepositoryCommand("./scripts/demo", scripts)).toBe(true);
    expect(isRepositoryCommand("bash infra/local/up.sh", scripts)).toBe(true);
    expect(isRepositoryCommand("pnpm bench", scripts)).toBe(true);
    expect(isRepositoryCommand("handoff-sync queues", scripts)).toBe(true);
    expect(isRepositoryCommand("kubectl apply -k infra/k8s", scripts)).toBe(false);
  });

  it("leaves out names, directories, image-build steps and messages", () => {
    expect(isRepositoryCommand("handoff-sync", scripts, true)).toBe(false);
    expect(isRepositoryCommand("infra/local/kafka/pom.xml", scripts, true)).toBe(false);
    expect(isRepositoryCommand("infra/k8s/", scripts)).toBe(false);
    expect(isRepositoryCommand("pnpm fetch", scripts)).toBe(false);
    expect(isRepositoryCommand("handoff-sync dlq replay: Forbidden: no", scripts)).toBe(false);
    expect(isRepositoryCommand("./scripts/pnpm", scripts, true)).toBe(true);
  });
});

describe("markdownCommands", () => {
  it("reads code blocks (prompts, continuations, comments) and inline spans that wrap lines", () => {
    const page = [
      "Run `./scripts/pnpm",
      "bench` or `pnpm build`; the project is `handoff-sync`.",
      `${fence}sh`,
      "./scripts/handoff-sync queues   # every queue",
      "kubectl get pods",
      "./scripts/handoff-sync dlq list \\",
      "  --destination crm",
      fence,
      fence,
      "$ ./scripts/handoff-sync config validate examples/webhook.yaml",
      "examples/webhook.yaml is valid",
      fence,
      `${fence}yaml`,
      "command: ./scripts/demo",
      fence,
    ].join("\n");
    expect(markdownCommands("p.md", page, scripts)).toEqual([
      { where: "p.md:4", text: "./scripts/handoff-sync queues" },
      { where: "p.md:6", text: "./scripts/handoff-sync dlq list --destination crm" },
      { where: "p.md:10", text: "./scripts/handoff-sync config validate examples/webhook.yaml" },
      { where: "p.md:1", text: "./scripts/pnpm bench" },
      { where: "p.md:2", text: "pnpm build" },
    ]);
  });
});

describe("printedCommands", () => {
  const script = [
    'export KEY="${KEY:-k-1}"',
    'echo "demo: look one up:" >&2',
    'echo "demo:   HANDOFF_SYNC_API_KEY=${KEY} ./scripts/handoff-sync queues" >&2',
  ].join("\n");

  it("takes the indented lines, with the script's defaults filled in", () => {
    expect(printedCommands("demo", script, "demo", scripts)).toEqual([
      { where: "demo:3", text: "HANDOFF_SYNC_API_KEY=k-1 ./scripts/handoff-sync queues" },
    ]);
  });

  it("refuses an indented line that is not a repository command, or a variable without a default", () => {
    expect(() => printedCommands("demo", 'echo "demo:   curl http://x"', "demo", scripts)).toThrow(
      /not one of/,
    );
    expect(() =>
      printedCommands("demo", 'echo "demo:   ./scripts/handoff-sync ${X}"', "demo", scripts),
    ).toThrow(/no default/);
  });
});

describe("planCheck", () => {
  const context: CheckContext = {
    rootScripts: scripts,
    cliCommands: ["config validate", "config schema", "queues", "dlq list"],
    exists: (path) =>
      ["scripts/handoff-sync", "scripts/pnpm", "scripts/node", "examples/webhook.yaml"].includes(path),
  };
  const plan = (text: string) => simpleCommands(text).map((c) => planCheck(c, context));

  it("refuses programs that are not on a fresh machine's PATH, naming the wrapper to use", () => {
    const reason = (text: string): string => {
      const [check] = plan(text);
      return check?.kind === "fail" ? check.reason : `not refused: ${JSON.stringify(check)}`;
    };
    expect(reason("pnpm bench")).toMatch(/^"pnpm" is not on PATH .*write \.\/scripts\/pnpm$/);
    expect(reason("handoff-sync queues")).toMatch(/write \.\/scripts\/handoff-sync$/);
    expect(reason("node x.js")).toMatch(/write \.\/scripts\/node$/);
  });

  it("runs the offline CLI commands as written, and the help of the others", () => {
    expect(plan("./scripts/handoff-sync config validate examples/webhook.yaml")).toEqual([
      {
        kind: "run",
        argv: ["./scripts/handoff-sync", "config", "validate", "examples/webhook.yaml"],
        env: {},
      },
    ]);
    expect(plan("./scripts/handoff-sync config validate broken.yaml")).toEqual([
      { kind: "run", argv: ["./scripts/handoff-sync", "config", "validate", "--help"], env: {} },
    ]);
    expect(plan("K=v ./scripts/handoff-sync dlq list --destination <name>")).toEqual([
      { kind: "run", argv: ["./scripts/handoff-sync", "dlq", "list", "--help"], env: { K: "v" } },
    ]);
    expect(plan("./scripts/handoff-sync <command> --help")).toEqual([
      { kind: "run", argv: ["./scripts/handoff-sync", "--help"], env: {} },
    ]);
    expect(plan("./scripts/handoff-sync dlq frobnicate")).toEqual([
      { kind: "fail", reason: 'the CLI has no command "dlq frobnicate"' },
    ]);
  });

  it("checks long-running commands resolve: the script exists, the files named exist", () => {
    expect(plan("./scripts/pnpm bench")).toEqual([
      { kind: "resolve", executable: "scripts/pnpm", script: "bench", paths: [] },
    ]);
    expect(plan("./scripts/pnpm nope")).toEqual([
      { kind: "fail", reason: 'package.json has no script "nope"' },
    ]);
    expect(plan("./scripts/node bench/dist/x.js /tmp/prof")).toEqual([
      { kind: "fail", reason: "no such file: bench/dist/x.js" },
    ]);
    expect(plan("./scripts/missing")).toEqual([{ kind: "fail", reason: "./scripts/missing does not exist" }]);
  });

  it("lists the programs a package.json script runs", () => {
    expect(scriptPrograms("./scripts/setup && ./scripts/node bench/dist/run.js")).toEqual([
      "./scripts/setup",
      "./scripts/node",
    ]);
  });
});
