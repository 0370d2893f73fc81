#!/usr/bin/env node
import { cliAdapterFactory } from "./adapters.js";
import { runCli } from "./cli.js";
import { cliEnvironment } from "./config.js";

const result = await runCli(process.argv.slice(2), {
  env: cliEnvironment(),
  cwd: process.cwd(),
  now: Date.now,
  createAdapter: cliAdapterFactory(Date.now),
});
process.stdout.write(result.stdout);
if (result.stderr !== undefined) process.stderr.write(result.stderr);
// exitCode rather than exit(): stdout to a pipe is flushed before the process ends.
process.exitCode = result.exitCode;
