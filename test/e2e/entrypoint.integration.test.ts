/**
 * The image's command line, tested without a Docker engine: the runtime stage's ENTRYPOINT + CMD,
 * WORKDIR and USER are read from infra/docker/Dockerfile and run inside a `pnpm deploy --prod`
 * output made read-only, as a non-root user, against real Kafka and Redis. SIGTERM must end each
 * service with exit code 0 (what Kubernetes sees at a rolling update or a node drain).
 *
 * With HANDOFF_SYNC_IMAGE set, the built images are checked as well: an image name in which
 * `{service}` stands for the service (`localhost/handoff-sync/{service}:0.1.0`, as
 * infra/docker/build-without-docker.sh tags them). They run with HANDOFF_SYNC_CONTAINER_ENGINE
 * (`podman` by default; `docker` works too) and its `run` options in HANDOFF_SYNC_CONTAINER_RUN_ARGS
 * (split on spaces), with a read-only root filesystem and the host's network. Unset, nothing here
 * needs a container engine.
 */
import { execFile, spawn } from "node:child_process";
import { access, chmod, copyFile, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort, redisEnv, uniqueName, waitFor } from "@handoff-sync/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const dockerfilePath = join(repoRoot, "infra/docker/Dockerfile");

export interface RuntimeStage {
  readonly workdir: string;
  readonly user: { uid: number; gid: number };
  /** ENTRYPOINT followed by CMD, as the container runtime would exec it. */
  readonly command: readonly string[];
}

/** Instructions of a Dockerfile: comments dropped, continuation lines joined. */
function instructions(text: string): { keyword: string; args: string }[] {
  const out: { keyword: string; args: string }[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.startsWith("#")) continue; // comment inside a continued instruction
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = `${pending}${line}`.trim();
    pending = "";
    if (full === "") continue;
    const match = /^(\S+)\s*(.*)$/s.exec(full);
    if (match) out.push({ keyword: match[1]!.toUpperCase(), args: match[2]! });
  }
  return out;
}

function execForm(keyword: string, args: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new Error(
      `${keyword} ${args} is in shell form: /bin/sh would be PID 1 and SIGTERM would not reach node`,
    );
  }
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === "string")) {
    throw new Error(`${keyword} must be a JSON array of strings, got ${args}`);
  }
  return parsed;
}

export function parseRuntimeStage(text: string): RuntimeStage {
  const all = instructions(text);
  const lastFrom = all.map((i) => i.keyword).lastIndexOf("FROM");
  if (lastFrom < 0) throw new Error("no FROM in the Dockerfile");
  let workdir = "/";
  let user: string | undefined;
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  for (const { keyword, args } of all.slice(lastFrom + 1)) {
    if (keyword === "WORKDIR") workdir = args.startsWith("/") ? args : join(workdir, args);
    if (keyword === "USER") user = args;
    if (keyword === "ENTRYPOINT") {
      entrypoint = execForm(keyword, args);
      cmd = []; // Docker resets an inherited CMD when ENTRYPOINT is set
    }
    if (keyword === "CMD") cmd = execForm(keyword, args);
  }
  if (!user) throw new Error("the runtime stage sets no USER: it would run as root");
  const ids = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!ids) throw new Error(`USER ${user} must be numeric (uid:gid) so Kubernetes can verify runAsNonRoot`);
  const uid = Number(ids[1]);
  const gid = Number(ids[2] ?? ids[1]);
  if (uid === 0) throw new Error("USER 0 is root");
  const command = [...entrypoint, ...cmd];
  if (command.length === 0) throw new Error("the runtime stage has neither ENTRYPOINT nor CMD");
  return { workdir, user: { uid, gid }, command };
}

const imageTemplate = process.env["HANDOFF_SYNC_IMAGE"]?.trim() || undefined;
const words = (value: string | undefined): string[] => (value ?? "").trim().split(/\s+/).filter(Boolean);
const engineCommand = words(process.env["HANDOFF_SYNC_CONTAINER_ENGINE"] ?? "podman");
const engineRunArgs = words(process.env["HANDOFF_SYNC_CONTAINER_RUN_ARGS"]);

/** Runs the container engine (`podman ...`); resolves with its output, rejects on a non-zero exit. */
async function engine(args: readonly string[]): Promise<string> {
  const [program, ...options] = engineCommand;
  const { stdout } = await run(program!, [...options, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** The image of a service: HANDOFF_SYNC_IMAGE with `{service}` replaced. */
export function imageName(template: string, service: string): string {
  if (!template.includes("{service}")) {
    throw new Error(
      `HANDOFF_SYNC_IMAGE=${template} must contain {service}, e.g. localhost/handoff-sync/{service}:0.1.0`,
    );
  }
  return template.replaceAll("{service}", service);
}

const services = [
  { name: "consumer", needsKafka: true },
  { name: "worker", needsKafka: false },
  { name: "api", needsKafka: false },
] as const;

/** What each service is started with, besides what the image sets (NODE_ENV, HANDOFF_SYNC_CONFIG). */
function serviceEnv(port: number, needsKafka: boolean): Record<string, string> {
  return {
    PORT: String(port),
    ...redisEnv(inject("redisUrl"), inject("redisCluster")),
    REDIS_PREFIX: uniqueName("ep"),
    DEMO_WEBHOOK_SECRET: "whsec_ZW50cnlwb2ludC10ZXN0LXNlY3JldC1oYW5kb2ZmLXN5bmM=",
    LOG_LEVEL: "info",
    ...(needsKafka
      ? {
          KAFKA_BROKERS: inject("kafkaBrokers"),
          KAFKA_GROUP_ID: uniqueName("entrypoint-group"),
          KAFKA_SESSION_TIMEOUT_MS: "8000",
          KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
        }
      : {}),
  };
}

describe("container entrypoint (infra/docker/Dockerfile)", () => {
  let stage: RuntimeStage;
  let root: string;
  let nodeBinary: string;
  let configPath: string;
  const topic = uniqueName("entrypoint");
  const asRoot = process.getuid?.() === 0;

  beforeAll(async () => {
    const text = await readFile(dockerfilePath, "utf8");
    stage = parseRuntimeStage(text);
    expect(text, "the image must hold production dependencies only").toMatch(/pnpm deploy --prod\b/);

    // Every directory on the way to the app must be searchable by the unprivileged user.
    root = await mkdtemp(join(tmpdir(), "handoff-sync-entrypoint-"));
    await chmod(root, 0o755);
    // The image's node lives outside the app; a copy keeps the toolchain's path (perhaps under a
    // private home directory) out of reach of the unprivileged user, as in the image.
    await mkdir(join(root, "bin"), { mode: 0o755 });
    nodeBinary = join(root, "bin/node");
    await copyFile(process.execPath, nodeBinary);
    await chmod(nodeBinary, 0o555);

    await mkdir(join(root, "etc"), { mode: 0o755 });
    configPath = join(root, "etc/destinations.yaml");
    await writeFile(
      configPath,
      [
        "version: 1",
        "source:",
        `  topic: ${topic}`,
        `  rejected_topic: ${topic}.dlq`,
        "destinations:",
        "  crm:",
        "    type: webhook",
        "    url: http://127.0.0.1:9/hooks",
        "    secret: env:DEMO_WEBHOOK_SECRET",
        "    allow_private_network: true",
        "routes:",
        "  - destinations: [crm]",
        "",
      ].join("\n"),
      { mode: 0o444 },
    );
  });

  afterAll(async () => {
    if (root) {
      await run("chmod", ["-R", "u+w", root]).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    }
  });

  it("reads an exec-form command, a numeric non-root user and a WORKDIR from the runtime stage", () => {
    expect(stage.command[0]).toBe("node");
    expect(stage.user.uid).not.toBe(0);
    expect(stage.workdir).toMatch(/^\//);
  });

  it("rejects a shell-form CMD and a missing USER", () => {
    expect(() => parseRuntimeStage("FROM node\nUSER 10001\nCMD node dist/main.js\n")).toThrow(/shell form/);
    expect(() => parseRuntimeStage('FROM node\nCMD ["node", "dist/main.js"]\n')).toThrow(/no USER/);
    expect(() => parseRuntimeStage('FROM node\nUSER node\nCMD ["node", "dist/main.js"]\n')).toThrow(
      /numeric/,
    );
  });

  describe.concurrent.each(services)("$name", ({ name, needsKafka }) => {
    it("starts read-only as a non-root user, becomes ready and exits 0 on SIGTERM", async () => {
      const app = join(root, name);
      await run("pnpm", ["deploy", "--prod", "--filter", `@handoff-sync/${name}`, app], {
        cwd: repoRoot,
        env: { ...process.env, CI: "true" },
        maxBuffer: 16 * 1024 * 1024,
      });
      await access(join(app, "dist/main.js")).catch(() => {
        throw new Error(`${app}/dist/main.js is missing: run \`pnpm build\` before this test`);
      });
      await run("chmod", ["-R", "a-w", app]);

      // The image's paths: WORKDIR is the deploy output; "node" is the Node 24 binary.
      const [program, ...args] = stage.command.map((part) =>
        isAbsolute(part) && part.startsWith(`${stage.workdir}/`)
          ? join(app, relative(stage.workdir, part))
          : part,
      );
      const executable = program === "node" ? nodeBinary : program!;
      const asUser = asRoot
        ? [
            "setpriv",
            `--reuid=${stage.user.uid}`,
            `--regid=${stage.user.gid}`,
            "--clear-groups",
            "--",
            executable,
          ]
        : [executable];

      // The deploy output is not writable by that user, as with readOnlyRootFilesystem.
      const write = await run(
        asUser[0]!,
        [...asUser.slice(1), "-e", "require('fs').writeFileSync('probe', '')"],
        {
          cwd: app,
        },
      ).then(
        () => "written",
        (error: unknown) => String(error),
      );
      expect(write).toMatch(/EACCES|EROFS|EPERM/);

      const port = await freePort();
      const env: Record<string, string> = {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: "/nonexistent",
        NODE_ENV: "production",
        HANDOFF_SYNC_CONFIG: configPath,
        ...serviceEnv(port, needsKafka),
      };
      const child = spawn(asUser[0]!, [...asUser.slice(1), ...args], {
        cwd: app,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const output: string[] = [];
      child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
      child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once("exit", (code, signal) => resolve({ code, signal })),
      );
      let ended = false;
      void exited.then(() => (ended = true));
      try {
        await waitFor(
          async () => {
            if (ended) throw new Error("exited during start-up");
            return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
          },
          { timeoutMs: 40_000, intervalMs: 200, message: `${name} ready` },
        );
        // setpriv execs node in place: the pid we signal is node itself, running as the image's user.
        const status = await readFile(`/proc/${child.pid}/status`, "utf8").catch(() => "");
        if (status !== "") {
          expect(await readlink(`/proc/${child.pid}/exe`)).toBe(nodeBinary);
          const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
          expect(uid).toBe(asRoot ? stage.user.uid : process.getuid?.());
          expect(uid).not.toBe(0);
        }
        child.kill("SIGTERM");
        const result = await Promise.race([
          exited,
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error("no exit within 30 s of SIGTERM")), 30_000),
          ),
        ]);
        expect(result, output.join("").slice(-4000)).toEqual({ code: 0, signal: null });
        expect(output.join("")).toContain('"msg":"stopped"');
      } finally {
        if (!ended) child.kill("SIGKILL");
      }
    }, 60_000);
  });

  // Only with HANDOFF_SYNC_IMAGE: the images built from the Dockerfile, run by a container engine.
  describe.runIf(imageTemplate !== undefined).concurrent.each(services)(
    "image $name",
    ({ name, needsKafka }) => {
      it("has the runtime stage's command and user, runs read-only, becomes ready and exits 0 on SIGTERM", async () => {
        const image = imageName(imageTemplate!, name);
        const config = JSON.parse(
          await engine(["image", "inspect", "--format", "{{json .Config}}", image]),
        ) as {
          User?: string;
          WorkingDir?: string;
          Entrypoint?: string[] | null;
          Cmd?: string[] | null;
        };
        expect([...(config.Entrypoint ?? []), ...(config.Cmd ?? [])]).toEqual(stage.command);
        expect(config.User).toBe(`${stage.user.uid}:${stage.user.gid}`);
        expect(config.WorkingDir).toBe(stage.workdir);

        // As the image's user, with a read-only root filesystem, the app cannot write its own directory.
        const write = await engine([
          "run",
          "--rm",
          "--read-only",
          ...engineRunArgs,
          "--entrypoint",
          "node",
          image,
          "-e",
          "require('fs').writeFileSync('probe', '')",
        ]).then(
          () => "written",
          (error: unknown) => String(error),
        );
        expect(write).toMatch(/\b(?:EACCES|EROFS|EPERM): .*'probe'/);

        const port = await freePort();
        const container = uniqueName(`handoff-sync-entrypoint-${name}`);
        const [program, ...options] = engineCommand;
        const child = spawn(
          program!,
          [
            ...options,
            "run",
            "--rm",
            "--name",
            container,
            "--read-only",
            "--network",
            "host",
            ...engineRunArgs,
            "--volume",
            `${configPath}:/etc/handoff-sync/destinations.yaml:ro`,
            ...Object.entries(serviceEnv(port, needsKafka)).flatMap(([key, value]) => [
              "--env",
              `${key}=${value}`,
            ]),
            image,
          ],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        const output: string[] = [];
        child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
        child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          child.once("exit", (code, signal) => resolve({ code, signal })),
        );
        let ended = false;
        void exited.then(() => (ended = true));
        try {
          await waitFor(
            async () => {
              if (ended) throw new Error(`exited during start-up: ${output.join("").slice(-4000)}`);
              return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
            },
            { timeoutMs: 60_000, intervalMs: 250, message: `${name} ready` },
          );
          // node is the container's PID 1 (exec form), running as the image's user. Its host pid is
          // visible when the engine runs on this kernel (not, for example, in a Docker Desktop VM).
          const pid = Number(await engine(["inspect", "--format", "{{.State.Pid}}", container]));
          const status = pid > 0 ? await readFile(`/proc/${pid}/status`, "utf8").catch(() => "") : "";
          if (status !== "") {
            expect(await readlink(`/proc/${pid}/exe`)).toMatch(/\/node$/);
            expect(/^NSpid:.*\s(\d+)$/m.exec(status)?.[1]).toBe("1");
            expect(Number(/^Uid:\s+(\d+)/m.exec(status)?.[1])).toBe(stage.user.uid);
          }

          await engine(["kill", "--signal", "TERM", container]);
          const result = await Promise.race([
            exited,
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error("no exit within 30 s of SIGTERM")), 30_000),
            ),
          ]);
          expect(result, output.join("").slice(-4000)).toEqual({ code: 0, signal: null });
          expect(output.join("")).toContain('"msg":"stopped"');
        } finally {
          if (!ended) await engine(["rm", "--force", container]).catch(() => undefined);
        }
      }, 120_000);
    },
  );
});
