import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";

/**
 * Summarises V8 `.cpuprofile` files (from `node --cpu-prof`): the functions with the most self
 * time, and self time grouped by where the code lives (a dependency, a workspace package, Node).
 * Usage: node bench/dist/profile-summary.js <file.cpuprofile | directory> [top]
 */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly functions: readonly { name: string; where: string; selfMs: number; share: number }[];
  readonly places: readonly { place: string; selfMs: number; share: number }[];
}

/** Where a script lives, short: `kafkajs`, `@handoff-sync/store`, `node:internal`, `(gc)`. */
export function placeOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const dependency = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency?.[1] !== undefined) return dependency[1];
  const workspace = /\/(packages|services|bench)\/([^/]+)\//.exec(url);
  if (workspace?.[2] !== undefined)
    return workspace[1] === "bench" ? "bench" : `@handoff-sync/${workspace[2]}`;
  if (url.startsWith("node:")) return "node:internal";
  return url;
}

export function summarise(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, index) =>
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000),
  );
  const functions = new Map<string, { name: string; where: string; selfMs: number }>();
  const places = new Map<string, number>();
  let totalMs = 0;
  for (const [id, ms] of self) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    totalMs += ms;
    const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
    const file = frame.url
      .replace(/^file:\/\//, "")
      .replace(/^.*\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, "");
    const where =
      file === "" ? "" : `${file.replace(/^.*\/(packages|services|bench)\//, "$1/")}:${frame.lineNumber + 1}`;
    const key = `${name} ${where}`;
    const entry = functions.get(key) ?? { name, where, selfMs: 0 };
    entry.selfMs += ms;
    functions.set(key, entry);
    const place = placeOf(frame.url, frame.functionName);
    places.set(place, (places.get(place) ?? 0) + ms);
  }
  const share = (ms: number): number => (totalMs === 0 ? 0 : ms / totalMs);
  return {
    totalMs,
    functions: [...functions.values()]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((f) => ({ ...f, share: share(f.selfMs) })),
    places: [...places.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([place, selfMs]) => ({ place, selfMs, share: share(selfMs) })),
  };
}

function render(title: string, summary: ProfileSummary): string {
  const pct = (s: number): string => `${(s * 100).toFixed(1).padStart(5)}%`;
  const ms = (n: number): string => `${n.toFixed(0).padStart(7)} ms`;
  return [
    `## ${title}: ${summary.totalMs.toFixed(0)} ms sampled`,
    "self time by place:",
    ...summary.places.slice(0, 12).map((p) => `  ${pct(p.share)} ${ms(p.selfMs)}  ${p.place}`),
    "top functions by self time:",
    ...summary.functions.map((f) => `  ${pct(f.share)} ${ms(f.selfMs)}  ${f.name}  ${f.where}`),
  ].join("\n");
}

async function main(): Promise<void> {
  const target = process.argv[2];
  const top = Number(process.argv[3] ?? 25);
  if (target === undefined) {
    process.stderr.write("usage: profile-summary <file.cpuprofile | directory> [top]\n");
    process.exit(2);
  }
  const files = (await stat(target)).isDirectory()
    ? (await readdir(target)).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(target, f))
    : [target];
  for (const file of files.sort()) {
    const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
    process.stdout.write(`${render(basename(file), summarise(profile, top))}\n\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]))) await main();
