/**
 * The commands the README, docs/ and the demo tell a reader to type, found in their text, so that
 * a test can run every one of them as a newcomer would (test/e2e/doc-commands.integration.test.ts)
 * and a new line in the docs is covered without anyone listing it.
 */

export interface DocCommand {
  /** Where it was found, `README.md:34`. */
  readonly where: string;
  /** As written, on one line. */
  readonly text: string;
}

/** Programs of this repository: a reader types them from the repository root. */
const REPO_PROGRAM = /^(?:\.\/)?(?:scripts|infra)\//;
/** Programs that are not on a fresh machine's PATH (the toolchain is in ~/.cache), or not at all. */
const BARE_PROGRAMS = new Set(["pnpm", "node", "npx", "handoff-sync"]);
const ASSIGNMENT = /^[A-Z_][A-Z0-9_]*=/;
/** Code blocks in these languages hold data or code, not command lines. */
const DATA_LANGUAGES = new Set(["yaml", "yml", "json", "jsonc", "js", "ts", "http", "text", "promql"]);

/** Splits a shell command line into words, honouring single and double quotes. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current = "";
  let quote: "'" | '"' | undefined;
  let inWord = false;
  for (const char of line) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else current += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** One command of a line: `a && b | c; d` gives `a`, `b`, `c` and `d`, each without redirections. */
export interface SimpleCommand {
  readonly env: Record<string, string>;
  readonly program: string;
  readonly args: readonly string[];
}

export function simpleCommands(text: string): SimpleCommand[] {
  const commands: SimpleCommand[] = [];
  for (const part of text.split(/\s*(?:&&|\|\||\||;)\s*/)) {
    const words = shellWords(part);
    const env: Record<string, string> = {};
    while (words.length > 0 && ASSIGNMENT.test(words[0] ?? "")) {
      const [name = "", ...value] = (words.shift() ?? "").split("=");
      env[name] = value.join("=");
    }
    // `> file`, `2>&1`, `>file`: where output goes is not part of what is checked.
    const args: string[] = [];
    for (let i = 0; i < words.length; i++) {
      const word = words[i] ?? "";
      if (/^\d?>>?&?\d?$/.test(word)) i++;
      else if (!/^\d?>/.test(word)) args.push(word);
    }
    const [program, ...rest] = args;
    if (program !== undefined) commands.push({ env, program, args: rest });
  }
  return commands;
}

/**
 * Whether a piece of text written as code is a command for this repository: it starts with one of
 * its programs (`./scripts/…`, `infra/…`) or with one a reader might expect on PATH
 * (`pnpm`, `node`, `npx`, `handoff-sync`). `bash infra/local/up.sh` counts as `infra/local/up.sh`.
 * Inline in prose, a lone name (`handoff-sync`, `infra/k8s`) is a name, not a command: a program
 * needs arguments there, or the `./` a reader types.
 */
export function isRepositoryCommand(text: string, rootScripts: ReadonlySet<string>, inline = false): boolean {
  const first = simpleCommands(text)[0];
  if (first === undefined) return false;
  const [program = "", ...args] = first.program === "bash" ? first.args : [first.program, ...first.args];
  const bare = inline && args.length === 0 && text.trim() === program;
  // A directory (`infra/k8s/`, in a tree listing) is not run.
  if (REPO_PROGRAM.test(program)) return !program.endsWith("/") && (!bare || program.startsWith("./"));
  if (!BARE_PROGRAMS.has(program) || bare) return false;
  // `pnpm fetch` or `pnpm deploy` describe what the image build runs; `pnpm bench` is a command
  // for the reader. A message such as `handoff-sync dlq replay: Forbidden: ...` is output.
  if (program === "pnpm") return rootScripts.has(args[0] ?? "") || args[0] === "run";
  if (program === "handoff-sync") return !/^handoff-sync [a-z -]+: /.test(text);
  return true;
}

const FENCE = /^(\s*)(```+|~~~+)\s*([\w-]*)/;

/**
 * The commands in a Markdown document: the lines of its code blocks (a `$ ` prompt dropped, `\`
 * continuations joined, `# comments` dropped) and its inline code spans that are repository
 * commands. Blocks of data (YAML, JSON, code) are skipped.
 */
export function markdownCommands(
  file: string,
  markdown: string,
  rootScripts: ReadonlySet<string>,
): DocCommand[] {
  const found: DocCommand[] = [];
  const prose: { line: number; text: string }[] = [];
  let fence: { marker: string; data: boolean } | undefined;
  let pending: { line: number; text: string } | undefined;
  markdown.split("\n").forEach((line, index) => {
    const number = index + 1;
    if (fence === undefined) {
      const opening = FENCE.exec(line);
      if (opening !== null)
        fence = { marker: opening[2] ?? "```", data: DATA_LANGUAGES.has(opening[3] ?? "") };
      else prose.push({ line: number, text: line });
      return;
    }
    if (line.trim().startsWith(fence.marker)) {
      fence = undefined;
      pending = undefined;
      return;
    }
    if (fence.data) return;
    let text = line.trim().replace(/^\$ /, "");
    if (pending !== undefined) text = `${pending.text} ${text}`;
    const start = pending?.line ?? number;
    if (text.endsWith("\\")) {
      pending = { line: start, text: text.slice(0, -1).trim() };
      return;
    }
    pending = undefined;
    text = text.replace(/(?:^|\s+)#(?:\s.*)?$/, "").trim();
    if (text !== "" && isRepositoryCommand(text, rootScripts))
      found.push({ where: `${file}:${start}`, text });
  });
  // Inline spans may wrap onto the next line of a paragraph.
  const joined = prose.map((p) => p.text).join("\n");
  for (const match of joined.matchAll(/(`+)([^`]+?)\1/g)) {
    const text = (match[2] ?? "").replace(/\s+/g, " ").trim();
    if (!isRepositoryCommand(text, rootScripts, true)) continue;
    const line = prose[joined.slice(0, match.index).split("\n").length - 1]?.line ?? 0;
    found.push({ where: `${file}:${line}`, text });
  }
  return found;
}

/**
 * The commands a shell script prints for its reader: lines `echo "demo:   <command>"` (a command
 * is printed indented under its explanation), with `${NAME}` replaced by the script's default
 * for NAME (`NAME="${NAME:-default}"`).
 */
export function printedCommands(
  file: string,
  script: string,
  prefix: string,
  rootScripts: ReadonlySet<string>,
): DocCommand[] {
  const defaults = new Map<string, string>();
  for (const match of script.matchAll(/([A-Z_][A-Z0-9_]*)="\$\{\1:-([^}]*)\}"/g)) {
    defaults.set(match[1] ?? "", match[2] ?? "");
  }
  const found: DocCommand[] = [];
  script.split("\n").forEach((line, index) => {
    const printed = new RegExp(`^\\s*echo "${prefix}:\\s{3,}(.*)"(?:\\s*>&2)?\\s*$`).exec(line);
    if (printed === null) return;
    const text = (printed[1] ?? "").replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_all, name: string) => {
      const value = defaults.get(name);
      if (value === undefined) throw new Error(`${file}:${index + 1}: no default for \${${name}}`);
      return value;
    });
    if (isRepositoryCommand(text, rootScripts)) found.push({ where: `${file}:${index + 1}`, text });
    else
      throw new Error(`${file}:${index + 1}: printed as a command but not one of the repository's: ${text}`);
  });
  return found;
}

/** What checking one command takes: running something, or looking at the repository. */
export type CommandCheck =
  | { readonly kind: "fail"; readonly reason: string }
  /** Run this argv from the repository root, with only the machine's own PATH; expect exit 0. */
  | { readonly kind: "run"; readonly argv: readonly string[]; readonly env: Record<string, string> }
  /** Too slow or too big to run in a test (demo, bench, the suites): these must exist. */
  | {
      readonly kind: "resolve";
      readonly executable: string;
      readonly script?: string;
      readonly paths: readonly string[];
    };

export interface CheckContext {
  /** package.json scripts of the repository root. */
  readonly rootScripts: ReadonlySet<string>;
  /** The CLI's commands, as its `--help` lists them: `config validate`, `queues`, ... */
  readonly cliCommands: readonly string[];
  /** Whether a path relative to the repository root exists. */
  exists(path: string): boolean;
}

const REPLACEMENT: Record<string, string> = {
  pnpm: "./scripts/pnpm",
  node: "./scripts/node",
  npx: "./scripts/pnpm exec",
  "handoff-sync": "./scripts/handoff-sync",
};
/** pnpm's own commands a reader may run through ./scripts/pnpm. */
const PNPM_BUILTINS = new Set(["install", "exec", "run", "--version"]);
const isPlaceholder = (word: string): boolean => /[<[].*[>\]]|\.\.\.|…|^[A-Z]+$/.test(word);
/** A path in the repository (an absolute one, `/tmp/prof`, is the reader's own). */
const looksLikePath = (word: string): boolean =>
  !word.startsWith("-") && !word.startsWith("/") && word.includes("/") && !/^\w+:\/\//.test(word);

/** Decides how to check one command of a docs line. */
export function planCheck(command: SimpleCommand, context: CheckContext): CommandCheck {
  let { program, args } = command;
  if (program === "bash") [program = "", ...args] = args;
  const replacement = REPLACEMENT[program];
  if (replacement !== undefined) {
    return {
      kind: "fail",
      reason: `"${program}" is not on PATH on a fresh machine (the toolchain is in ~/.cache/handoff-sync); write ${replacement}`,
    };
  }
  if (!REPO_PROGRAM.test(program)) return { kind: "fail", reason: `not a repository command: ${program}` };
  const executable = program.replace(/^\.\//, "");
  if (!context.exists(executable)) return { kind: "fail", reason: `${program} does not exist` };
  const missing = args.filter((a) => looksLikePath(a) && !isPlaceholder(a) && !context.exists(a));
  const env = command.env;

  if (executable === "scripts/handoff-sync") {
    const words = args.filter((a) => !a.startsWith("-"));
    const name = [...context.cliCommands]
      .sort((a, b) => b.length - a.length)
      .find((c) => c.split(" ").every((part, i) => words[i] === part));
    if (name === undefined) {
      if (words.length === 0 || isPlaceholder(words[0] ?? ""))
        return { kind: "run", argv: [program, "--help"], env };
      return { kind: "fail", reason: `the CLI has no command "${words.slice(0, 2).join(" ")}"` };
    }
    if (args.includes("--help")) return { kind: "run", argv: [program, ...name.split(" "), "--help"], env };
    const rest = args.slice(args.indexOf(name.split(" ").at(-1) ?? "") + 1);
    const offline =
      (name === "config validate" && rest.some((a) => !a.startsWith("-"))) || name === "config schema";
    // The offline commands run as written when their files are there; the others need a running
    // deployment (or files the example only names), so their usage is what can be checked here.
    if (offline && !rest.some(isPlaceholder) && rest.every((a) => a.startsWith("-") || context.exists(a))) {
      return { kind: "run", argv: [program, ...args], env };
    }
    return { kind: "run", argv: [program, ...name.split(" "), "--help"], env };
  }
  if (missing.length > 0) return { kind: "fail", reason: `no such file: ${missing.join(", ")}` };
  // A lone `./scripts/pnpm` in prose names the program; it must be there.
  if (args.length === 0) return { kind: "resolve", executable, paths: [] };
  if (executable === "scripts/pnpm") {
    const [first = "", second = ""] = args;
    const script = first === "run" ? second : first;
    if (context.rootScripts.has(script)) return { kind: "resolve", executable, script, paths: [] };
    if (PNPM_BUILTINS.has(first)) return { kind: "resolve", executable, paths: [] };
    return { kind: "fail", reason: `package.json has no script "${script}"` };
  }
  if (executable === "scripts/node") return { kind: "resolve", executable, paths: args.slice(0, 1) };
  return { kind: "resolve", executable, paths: [] };
}

/**
 * The programs a package.json script runs (`./scripts/setup && ./scripts/node bench/dist/run.js`
 * gives both), each to be found in the repository or in node_modules/.bin.
 */
export function scriptPrograms(script: string): string[] {
  return simpleCommands(script).map((c) => c.program);
}
