#!/usr/bin/env node
import { cliAdapterFactory } from "./adapters.js";
import { runCli } from "./cli.js";
import { cliEnvironment } from "./config.js";

const result = await runCli(process.argv.slice(2), {
  env: cliEnvironment(),
  cwd: process.cwd(),
  now: Date.now,
  createAdapter: cliAdapterFactory(Date.now),
  // Progress bars only on a terminal: piped or redirected stderr gets messages, not redraws.
  ...(process.stderr.isTTY
    ? { terminal: { write: (text: string) => process.stderr.write(text), columns: process.stderr.columns } }
    : {}),
});
process.stdout.write(result.stdout);
if (result.stderr !== undefined) process.stderr.write(result.stderr);
// exitCode rather than exit(): stdout to a pipe is flushed before the process ends.
process.exitCode = result.exitCode;
