/**
 * scripts/sbom.mjs: a CycloneDX SBOM of what ships (services, CLI and their production
 * dependencies), generated from pnpm-lock.yaml.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

interface Component {
  type: string;
  "bom-ref": string;
  group?: string;
  name: string;
  version: string;
  purl: string;
  scope?: string;
  hashes?: { alg: string; content: string }[];
}
interface Sbom {
  bomFormat: string;
  specVersion: string;
  serialNumber: string;
  metadata: { timestamp: string; component: { name: string; version: string; "bom-ref": string } };
  components: Component[];
  dependencies: { ref: string; dependsOn: string[] }[];
}

async function dependencyVersion(manifest: string, name: string): Promise<string> {
  const json = JSON.parse(await readFile(join(repoRoot, manifest), "utf8")) as {
    dependencies: Record<string, string>;
  };
  const version = json.dependencies[name];
  if (!version) throw new Error(`${manifest} does not depend on ${name}`);
  return version;
}

describe("scripts/sbom.mjs", () => {
  let dir: string;
  let sbom: Sbom;
  const find = (name: string, group?: string) =>
    sbom.components.find((c) => c.name === name && c.group === group);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "handoff-sync-sbom-"));
    const out = join(dir, "sbom.cdx.json");
    const { stdout } = await run(process.execPath, [join(repoRoot, "scripts/sbom.mjs"), "--out", out], {
      cwd: tmpdir(), // the script finds the repository by itself
      env: { ...process.env, SOURCE_DATE_EPOCH: "1764000000" },
    });
    expect(stdout).toMatch(/sbom: \d+ components/);
    sbom = JSON.parse(await readFile(out, "utf8")) as Sbom;
  }, 60_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("is a CycloneDX 1.6 document about handoff-sync", async () => {
    const root = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string };
    expect(sbom.bomFormat).toBe("CycloneDX");
    expect(sbom.specVersion).toBe("1.6");
    expect(sbom.serialNumber).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    expect(sbom.metadata.timestamp).toBe(new Date(1_764_000_000_000).toISOString());
    expect(sbom.metadata.component).toMatchObject({ name: "handoff-sync", version: root.version });
  });

  it("lists kafkajs and bullmq at the lockfile's versions, with purls and SHA-512 hashes", async () => {
    const kafkajs = find("kafkajs");
    const bullmq = find("bullmq");
    expect(kafkajs?.version).toBe(await dependencyVersion("packages/kafka/package.json", "kafkajs"));
    expect(bullmq?.version).toBe(await dependencyVersion("services/worker/package.json", "bullmq"));
    expect(kafkajs?.purl).toBe(`pkg:npm/kafkajs@${kafkajs?.version}`);
    for (const component of [kafkajs, bullmq]) {
      expect(component?.type).toBe("library");
      expect(component?.scope).toBeUndefined();
      expect(component?.hashes?.[0]?.alg).toBe("SHA-512");
      expect(component?.hashes?.[0]?.content).toMatch(/^[0-9a-f]{128}$/);
    }
  });

  it("names scoped packages with a group and an encoded purl", () => {
    const worker = find("worker", "@handoff-sync");
    expect(worker?.type).toBe("application");
    expect(worker?.purl).toMatch(/^pkg:npm\/%40handoff-sync\/worker@/);
  });

  it("holds production dependencies only: no dev tooling, no test helpers", () => {
    for (const name of ["vitest", "typescript", "eslint", "prettier", "fast-check", "testcontainers"])
      expect(find(name)).toBeUndefined();
    expect(find("testing", "@handoff-sync")).toBeUndefined();
    for (const service of ["consumer", "worker", "api"]) expect(find(service, "@handoff-sync")).toBeDefined();
  });

  it("has a dependency graph whose every reference is a component", () => {
    const refs = new Set([sbom.metadata.component["bom-ref"], ...sbom.components.map((c) => c["bom-ref"])]);
    expect(new Set(sbom.components.map((c) => c["bom-ref"])).size).toBe(sbom.components.length);
    for (const entry of sbom.dependencies) {
      expect(refs.has(entry.ref)).toBe(true);
      for (const target of entry.dependsOn) expect(refs.has(target), `${entry.ref} -> ${target}`).toBe(true);
    }
    const worker = sbom.dependencies.find((d) => d.ref === find("worker", "@handoff-sync")?.["bom-ref"]);
    expect(worker?.dependsOn).toContain(find("bullmq")?.["bom-ref"]);
    const kafka = sbom.dependencies.find((d) => d.ref === find("kafka", "@handoff-sync")?.["bom-ref"]);
    expect(kafka?.dependsOn).toContain(find("kafkajs")?.["bom-ref"]);
  });
});
