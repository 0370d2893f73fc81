import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { formatReport, parseBenchOptions, runBench } from "./bench.js";

// `pnpm bench`: measures, prints the table on stdout (progress on stderr), writes the JSON.
const options = parseBenchOptions(process.env);
const output = options.output ?? fileURLToPath(new URL("../results/latest.json", import.meta.url));
const started = Date.now();
const result = await runBench(options, {
  env: process.env,
  progress: (message) =>
    process.stderr.write(
      `[bench ${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s] ${message}\n`,
    ),
});
await mkdir(dirname(output), { recursive: true });
await writeFile(output, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${formatReport(result)}\n\nwritten to ${output}\n`);
// Pooled connections of the libraries measured may keep the loop alive after everything closed.
process.exit(0);
