#!/usr/bin/env node
// Writes a CycloneDX 1.6 software bill of materials (JSON) for what handoff-sync ships: the
// services (each built into an image) and the CLI, with their production dependencies, read from
// pnpm-lock.yaml. devDependencies and workspace packages no shipped package depends on (the test
// helpers) are left out.
//
//   node scripts/sbom.mjs [--out dist/sbom.cdx.json] [--lockfile pnpm-lock.yaml]
//
// Versions and SHA-512 hashes come from the lockfile; licences from the installed packages when
// node_modules is present. SOURCE_DATE_EPOCH (seconds) fixes the timestamp for reproducible output.
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, posix, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Importers whose production closure ships: every service, and the CLI. */
const SHIPPED = (importer) => importer.startsWith("services/") || importer === "packages/cli";

function args(argv) {
  const options = { out: "dist/sbom.cdx.json", lockfile: "pnpm-lock.yaml" };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--out" || flag === "--lockfile") {
      const value = argv[++i];
      if (!value) throw new Error(`${flag} needs a value`);
      options[flag.slice(2)] = value;
    } else if (flag === "--help" || flag === "-h") {
      process.stdout.write(
        "usage: node scripts/sbom.mjs [--out dist/sbom.cdx.json] [--lockfile pnpm-lock.yaml]\n",
      );
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${flag}`);
    }
  }
  return options;
}

function readJson(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** "6.7.0(ioredis@5.11.1)" -> "6.7.0" */
const withoutPeers = (version) => version.replace(/\(.*$/, "");

/** The snapshot key of a dependency: "name@version(peers)", or the alias target "other@1.0.0". */
function snapshotKey(name, version) {
  return /^(@?[^@(]+)@/.test(version) ? version : `${name}@${version}`;
}

/** "@scope/name@1.2.3(peer@1)" -> { name: "@scope/name", version: "1.2.3" } */
function splitKey(key) {
  const bare = withoutPeers(key);
  const at = bare.lastIndexOf("@");
  return { name: bare.slice(0, at), version: bare.slice(at + 1) };
}

function purl(name, version) {
  const [group, local] = name.startsWith("@") ? name.split("/") : [undefined, name];
  const path = group
    ? `${encodeURIComponent(group)}/${encodeURIComponent(local)}`
    : encodeURIComponent(local);
  return `pkg:npm/${path}@${encodeURIComponent(version)}`;
}

function nameFields(name) {
  if (!name.startsWith("@")) return { name };
  const [group, local] = name.split("/");
  return { group, name: local };
}

/** "sha512-<base64>" -> CycloneDX hash */
function hashes(integrity) {
  if (typeof integrity !== "string") return undefined;
  const out = [];
  for (const part of integrity.split(/\s+/)) {
    const match = /^(sha512|sha384|sha256|sha1)-(.+)$/.exec(part);
    if (!match) continue;
    const alg = { sha512: "SHA-512", sha384: "SHA-384", sha256: "SHA-256", sha1: "SHA-1" }[match[1]];
    out.push({ alg, content: Buffer.from(match[2], "base64").toString("hex") });
  }
  return out.length > 0 ? out : undefined;
}

/** The licence from the installed package, when node_modules has it. */
function installedLicense(key) {
  const { name } = splitKey(key);
  const dir = key
    .replace(/\//g, "+")
    .replace(/[()]/g, (c) => (c === "(" ? "_" : ""))
    .replace(/_+$/, "");
  for (const candidate of [dir, withoutPeers(key).replace(/\//g, "+")]) {
    const path = join(root, "node_modules/.pnpm", candidate, "node_modules", name, "package.json");
    if (existsSync(path)) {
      const license = readJson(path).license;
      if (typeof license === "string" && license !== "") return license;
      return undefined;
    }
  }
  return undefined;
}

function licenses(license) {
  if (!license) return undefined;
  return /^[A-Za-z0-9.+-]+(\s+(AND|OR|WITH)\s+[A-Za-z0-9.+-]+)*$|^\(.*\)$/.test(license)
    ? [{ expression: license }]
    : [{ license: { name: license } }];
}

export function buildSbom(lock, options = {}) {
  const importers = lock.importers ?? {};
  const snapshots = lock.snapshots ?? {};
  const packages = lock.packages ?? {};
  const rootManifest = readJson(join(root, "package.json"));

  const components = new Map(); // bom-ref -> component
  const edges = new Map(); // bom-ref -> Set<bom-ref>
  const required = new Set(); // refs reachable through non-optional edges
  const edge = (from, to) => {
    if (!edges.has(from)) edges.set(from, new Set());
    edges.get(from).add(to);
  };

  const workspaceRef = (importer) => {
    const manifest = readJson(join(root, importer, "package.json"));
    const ref = purl(manifest.name, manifest.version ?? "0.0.0");
    if (!components.has(ref)) {
      components.set(ref, {
        type: importer.startsWith("services/") ? "application" : "library",
        "bom-ref": ref,
        ...nameFields(manifest.name),
        version: manifest.version ?? "0.0.0",
        ...(manifest.description ? { description: manifest.description } : {}),
        ...(licenses(manifest.license ?? rootManifest.license)
          ? { licenses: licenses(manifest.license ?? rootManifest.license) }
          : {}),
        purl: ref,
        properties: [{ name: "handoff-sync:workspace-path", value: importer }],
      });
    }
    return ref;
  };

  const visited = new Set();
  const visitImporter = (importer, optional) => {
    const ref = workspaceRef(importer);
    if (!optional) required.add(ref);
    const key = `importer:${importer}:${optional}`;
    if (visited.has(key)) return ref;
    visited.add(key);
    const entry = importers[importer] ?? {};
    for (const [section, isOptional] of [
      ["dependencies", false],
      ["optionalDependencies", true],
    ]) {
      for (const [name, spec] of Object.entries(entry[section] ?? {})) {
        const version = typeof spec === "string" ? spec : spec.version;
        if (version.startsWith("link:")) {
          const target = posix.normalize(posix.join(importer, version.slice(5)));
          edge(ref, visitImporter(target, optional || isOptional));
        } else {
          edge(ref, visitPackage(snapshotKey(name, version), optional || isOptional));
        }
      }
    }
    return ref;
  };

  const visitPackage = (key, optional) => {
    const { name, version } = splitKey(key);
    const ref = purl(name, version);
    if (!optional) required.add(ref);
    if (!components.has(ref)) {
      const meta = packages[withoutPeers(key)] ?? packages[key] ?? {};
      const license = options.licenses === false ? undefined : installedLicense(key);
      components.set(ref, {
        type: "library",
        "bom-ref": ref,
        ...nameFields(name),
        version,
        ...(hashes(meta.resolution?.integrity) ? { hashes: hashes(meta.resolution?.integrity) } : {}),
        ...(licenses(license) ? { licenses: licenses(license) } : {}),
        purl: ref,
      });
    }
    const visitKey = `package:${key}:${optional}`;
    if (visited.has(visitKey)) return ref;
    visited.add(visitKey);
    const snapshot = snapshots[key] ?? {};
    for (const [section, isOptional] of [
      ["dependencies", false],
      ["optionalDependencies", true],
    ]) {
      for (const [depName, depVersion] of Object.entries(snapshot[section] ?? {})) {
        if (String(depVersion).startsWith("link:")) continue;
        edge(ref, visitPackage(snapshotKey(depName, String(depVersion)), optional || isOptional));
      }
    }
    return ref;
  };

  const rootRef = purl(rootManifest.name, rootManifest.version);
  for (const importer of Object.keys(importers).filter(SHIPPED).sort())
    edge(rootRef, visitImporter(importer, false));

  const sorted = [...components.values()]
    .map((component) =>
      required.has(component["bom-ref"]) ? component : { ...component, scope: "optional" },
    )
    .sort((a, b) => a["bom-ref"].localeCompare(b["bom-ref"]));
  const timestamp = process.env.SOURCE_DATE_EPOCH
    ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString()
    : new Date().toISOString();

  return {
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp,
      tools: {
        components: [
          { type: "application", name: "handoff-sync scripts/sbom.mjs", version: rootManifest.version },
        ],
      },
      component: {
        type: "application",
        "bom-ref": rootRef,
        name: rootManifest.name,
        version: rootManifest.version,
        ...(rootManifest.description ? { description: rootManifest.description } : {}),
        ...(licenses(rootManifest.license) ? { licenses: licenses(rootManifest.license) } : {}),
        purl: rootRef,
      },
      properties: [{ name: "handoff-sync:lockfile", value: options.lockfileName ?? "pnpm-lock.yaml" }],
    },
    components: sorted,
    dependencies: [rootRef, ...sorted.map((c) => c["bom-ref"])].map((ref) => ({
      ref,
      dependsOn: [...(edges.get(ref) ?? [])].sort(),
    })),
  };
}

function main() {
  const options = args(process.argv.slice(2));
  const lockfile = resolve(root, options.lockfile);
  // pnpm 11+ lockfiles may start with a document of the package manager's own dependencies; the
  // project's is the one with workspace importers.
  const documents = parseAllDocuments(readFileSync(lockfile, "utf8")).map((doc) => doc.toJS());
  const lock = documents.filter((doc) => doc && doc.importers && doc.snapshots).at(-1);
  if (!lock) throw new Error(`${lockfile}: no lockfile document with importers and snapshots`);
  const sbom = buildSbom(lock, { lockfileName: options.lockfile });
  const out = resolve(root, options.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(sbom, null, 2)}\n`);
  process.stdout.write(`sbom: ${sbom.components.length} components -> ${out}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`sbom: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
