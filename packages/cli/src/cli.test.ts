import { describe, expect, it } from "vitest";
import { runCli, usage } from "./cli.js";
import { EXIT, ok, UsageError, type CliContext, type Command } from "./command.js";

const context: CliContext = {
  env: {},
  cwd: "/",
  now: () => 0,
  createAdapter: () => {
    throw new Error("not used");
  },
};

/** Commands as issue 5 will add them: a group with several words, and one that overlaps a group name. */
const calls: string[][] = [];
const fake = (name: string[], run?: Command["run"]): Command => ({
  name,
  summary: `${name.join(" ")} summary`,
  usage: `${name.join(" ")} [ARG]`,
  description: "Details.",
  run:
    run ??
    ((args) => {
      calls.push([...name, "|", ...args]);
      return Promise.resolve(ok("done\n"));
    }),
});
const commands = [
  fake(["destinations", "check"]),
  fake(["destinations", "pause"]),
  fake(["dlq", "list"]),
  fake(["dlq"]),
  fake(["broken"], () => Promise.reject(new Error("boom"))),
  fake(["strict"], () => Promise.reject(new UsageError("bad flag"))),
];

describe("dispatcher", () => {
  it("routes on the longest matching command words and passes the rest", async () => {
    calls.length = 0;
    await runCli(["destinations", "pause", "crm", "--json"], context, commands);
    await runCli(["dlq", "list", "x"], context, commands);
    await runCli(["dlq", "y"], context, commands);
    expect(calls).toEqual([
      ["destinations", "pause", "|", "crm", "--json"],
      ["dlq", "list", "|", "x"],
      ["dlq", "|", "y"],
    ]);
  });

  it("prints the command list for no arguments (exit 2) and for --help (exit 0)", async () => {
    expect(await runCli([], context, commands)).toEqual({
      exitCode: EXIT.usage,
      stdout: "",
      stderr: usage(commands),
    });
    expect(await runCli(["--help"], context, commands)).toEqual({
      exitCode: EXIT.ok,
      stdout: usage(commands),
    });
    expect(usage(commands)).toContain("  destinations check  destinations check summary\n");
  });

  it("prints a command's help for --help anywhere before --, or help <command>", async () => {
    for (const argv of [
      ["destinations", "check", "x", "--help"],
      ["destinations", "check", "-h"],
      ["help", "destinations", "check"],
    ]) {
      const result = await runCli(argv, context, commands);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe(
        "usage: handoff-sync destinations check [ARG]\n\nDestinations check summary.\n\nDetails.\n",
      );
    }
    calls.length = 0;
    await runCli(["dlq", "--", "--help"], context, commands);
    expect(calls).toEqual([["dlq", "|", "--", "--help"]]);
  });

  it.each([
    [["destinatons", "check"], 'unknown command "destinatons"; did you mean "destinations"?'],
    [["destinations", "chek"], 'unknown command "destinations chek"; did you mean "destinations check"?'],
    [["destinations"], '"destinations" needs a subcommand'],
    [["frobnicate"], 'unknown command "frobnicate"\n'],
  ])("refuses %j as a usage error", async (argv, message) => {
    const result = await runCli(argv, context, commands);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`handoff-sync: ${message}`);
  });

  it("turns a command's UsageError into exit 2 with its usage line, other errors into exit 1", async () => {
    expect(await runCli(["strict"], context, commands)).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: "handoff-sync: strict: bad flag\nusage: handoff-sync strict [ARG]\n",
    });
    expect(await runCli(["broken"], context, commands)).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: "handoff-sync broken: boom\n",
    });
  });

  it("lists the real commands", async () => {
    const result = await runCli(["--help"], context);
    for (const name of [
      "config validate",
      "config schema",
      "preview",
      "destinations check",
      "queues",
      "dlq list",
      "dlq show",
      "dlq replay",
      "dlq discard",
      "rejected list",
      "rejected resend",
      "destinations pause",
      "destinations resume",
      "destinations backfill",
      "handoff get",
      "erase",
    ])
      expect(result.stdout).toContain(`  ${name} `);
  });
});
