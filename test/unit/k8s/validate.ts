/**
 * Renders infra/k8s with `kubectl kustomize` and checks the result: strict schemas per kind (a
 * misspelt field fails) and the semantics that a schema cannot see — selectors that match pod
 * labels, probe and Service ports that exist, a grace period above the drain timeout, Secrets that
 * are referenced (never written) and documented, KEDA triggers that point at the real topic and
 * queue keys, alerts whose runbook sections and metrics exist.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DestinationsFileSchema, SecretRef } from "@handoff-sync/config";
import { destinationQueueNames } from "@handoff-sync/queue";
import { parseAllDocuments } from "yaml";
import {
  schemas,
  type ConfigMapT,
  type DeploymentT,
  type HorizontalPodAutoscalerT,
  type LabelSelectorT,
  type NetworkPolicyT,
  type PodDisruptionBudgetT,
  type PrometheusRuleT,
  type ScaledObjectT,
  type ServiceMonitorT,
  type ServiceT,
  type TriggerAuthenticationT,
} from "./schemas.js";

const run = promisify(execFile);
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const k8sDir = join(repoRoot, "infra/k8s");

/** The user the image runs as (infra/docker/Dockerfile `USER 10001:10001`). */
const IMAGE_UID = 10001;
/** The worker's shutdown allows itself WORKER_DRAIN_TIMEOUT_MS + 4 s (services/worker/src/main.ts). */
const WORKER_CLOSE_MARGIN_MS = 4000;
const WORKER_DRAIN_DEFAULT_MS = 25_000;
/** onShutdown's default limit for the consumer and the api (packages/telemetry/src/shutdown.ts). */
const DEFAULT_SHUTDOWN_MS = 28_000;

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
} & Record<string, unknown>;

let kubectlPath: Promise<string> | undefined;
/** Runs infra/k8s/ensure-kubectl.sh once (installing Debian's package where kubectl is missing). */
export function kubectl(): Promise<string> {
  kubectlPath ??= run(join(k8sDir, "ensure-kubectl.sh"), [], { timeout: 300_000 }).then(({ stdout }) => {
    const path = stdout.trim().split("\n").at(-1);
    if (!path) throw new Error("ensure-kubectl.sh printed no kubectl path");
    return path;
  });
  return kubectlPath;
}

export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML from kustomize: ${doc.errors[0]?.message}`);
      return doc.toJS() as unknown;
    })
    .filter((value): value is K8sObject => value !== null && typeof value === "object");
}

/** Renders a kustomization directory. */
export async function render(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run(await kubectl(), ["kustomize", dir], { maxBuffer: 32 * 1024 * 1024 });
  return parseObjects(stdout);
}

/**
 * Renders an overlay with components added, as `components:` in that overlay would, from a
 * throw-away kustomization (kustomize accepts relative paths only) that keeps its namespace.
 */
export async function renderWithComponents(
  overlay: string,
  components: readonly string[],
  namespace: string,
): Promise<K8sObject[]> {
  const dir = await mkdtemp(join(tmpdir(), "handoff-sync-kustomize-"));
  try {
    const lines = [
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      `namespace: ${namespace}`,
      "resources:",
      `  - ${relative(dir, overlay)}`,
      "components:",
      ...components.map((component) => `  - ${relative(dir, component)}`),
      "",
    ];
    await writeFile(join(dir, "kustomization.yaml"), lines.join("\n"));
    return await render(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Docs {
  /** docs/kubernetes.md: the Secrets table, `| \`secret\` | \`key\` | ...`. */
  readonly secrets: ReadonlyMap<string, ReadonlySet<string>>;
  /** docs/runbook.md: heading anchors and the text (for the metrics contract). */
  readonly runbookAnchors: ReadonlySet<string>;
  readonly runbookText: string;
}

function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, "")
    .replace(/ /g, "-");
}

export async function readDocs(): Promise<Docs> {
  const kubernetes = await readFile(join(repoRoot, "docs/kubernetes.md"), "utf8");
  const secrets = new Map<string, Set<string>>();
  for (const match of kubernetes.matchAll(/^\|\s*`([a-z0-9.-]+)`\s*\|\s*`([A-Za-z0-9_.-]+)`\s*\|/gm)) {
    const [, secret, key] = match as unknown as [string, string, string];
    secrets.set(secret, (secrets.get(secret) ?? new Set()).add(key));
  }
  const runbookText = await readFile(join(repoRoot, "docs/runbook.md"), "utf8");
  const runbookAnchors = new Set([...runbookText.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => anchor(m[1]!)));
  return { secrets, runbookAnchors, runbookText };
}

function selects(selector: LabelSelectorT, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (labels[key] !== value) return false;
  for (const expression of selector.matchExpressions ?? []) {
    const value = labels[expression.key];
    const values = expression.values ?? [];
    if (expression.operator === "In" && (value === undefined || !values.includes(value))) return false;
    if (expression.operator === "NotIn" && value !== undefined && values.includes(value)) return false;
    if (expression.operator === "Exists" && value === undefined) return false;
    if (expression.operator === "DoesNotExist" && value !== undefined) return false;
  }
  return true;
}

function isEmptySelector(selector: LabelSelectorT): boolean {
  return (
    Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0
  );
}

function envOf(deployment: DeploymentT, configMaps: readonly ConfigMapT[]): Map<string, string> {
  const env = new Map<string, string>();
  const container = deployment.spec.template.spec.containers[0]!;
  for (const from of container.envFrom ?? []) {
    const cm = configMaps.find((c) => c.metadata.name === from.configMapRef?.name);
    for (const [key, value] of Object.entries(cm?.data ?? {})) env.set(key, value);
  }
  for (const variable of container.env ?? [])
    if (variable.value !== undefined) env.set(variable.name, variable.value);
  return env;
}

export interface ValidationOptions {
  /** Every object must carry this namespace (overlays). */
  readonly namespace?: string;
  /** Image tags must be versions (x.y.z). */
  readonly versionedImages?: boolean;
}

/** Returns every problem found; an empty list means the rendered manifests are valid. */
export function validate(
  objects: readonly K8sObject[],
  docs: Docs,
  options: ValidationOptions = {},
): string[] {
  const problems: string[] = [];
  const typed = new Map<string, unknown[]>();
  for (const object of objects) {
    const id = `${object.kind}/${object.metadata?.name}`;
    const key = `${object.apiVersion}/${object.kind}`;
    const schema = (schemas as Record<string, (typeof schemas)[keyof typeof schemas]>)[key];
    if (!schema) {
      problems.push(
        `${id}: no schema for ${key}: add one to test/unit/k8s/schemas.ts (Secrets must not be rendered at all)`,
      );
      continue;
    }
    const parsed = schema.safeParse(object);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const keys = "keys" in issue && Array.isArray(issue.keys) ? ` ${issue.keys.join(", ")}` : "";
        problems.push(`${id}: ${issue.path.join(".")}: ${issue.message}${keys}`);
      }
      continue;
    }
    typed.set(object.kind, [...(typed.get(object.kind) ?? []), parsed.data]);
    if (
      options.namespace !== undefined &&
      object.kind !== "Namespace" &&
      object.metadata.namespace !== options.namespace
    ) {
      problems.push(
        `${id}: namespace ${object.metadata.namespace ?? "(none)"}, expected ${options.namespace}`,
      );
    }
  }
  const all = <T>(kind: string): T[] => (typed.get(kind) ?? []) as T[];
  const deployments = all<DeploymentT>("Deployment");
  const services = all<ServiceT>("Service");
  const configMaps = all<ConfigMapT>("ConfigMap");
  const pdbs = all<PodDisruptionBudgetT>("PodDisruptionBudget");
  const hpas = all<HorizontalPodAutoscalerT>("HorizontalPodAutoscaler");
  const policies = all<NetworkPolicyT>("NetworkPolicy");
  const monitors = all<ServiceMonitorT>("ServiceMonitor");
  const rules = all<PrometheusRuleT>("PrometheusRule");
  const scaledObjects = all<ScaledObjectT>("ScaledObject");
  const triggerAuths = all<TriggerAuthenticationT>("TriggerAuthentication");
  const serviceAccounts = new Set(
    objects.filter((o) => o.kind === "ServiceAccount").map((o) => o.metadata.name),
  );

  for (const component of ["consumer", "worker", "api"]) {
    if (!deployments.some((d) => d.metadata.name === `handoff-sync-${component}`))
      problems.push(`Deployment/handoff-sync-${component} is missing`);
  }

  const secretRef = (where: string, secret: string, key?: string): void => {
    const documented = docs.secrets.get(secret);
    if (!documented)
      problems.push(`${where}: Secret ${secret} is not documented in docs/kubernetes.md ("Secrets")`);
    else if (key !== undefined && !documented.has(key))
      problems.push(`${where}: key ${key} of Secret ${secret} is not documented in docs/kubernetes.md`);
  };

  const podLabels = deployments.map((d) => d.spec.template.metadata.labels);
  for (const deployment of deployments) {
    const id = `Deployment/${deployment.metadata.name}`;
    const pod = deployment.spec.template;
    if (
      isEmptySelector(deployment.spec.selector) ||
      !selects(deployment.spec.selector, pod.metadata.labels)
    ) {
      problems.push(`${id}: spec.selector does not match the pod template labels`);
    }
    const others = deployments.filter(
      (d) => d !== deployment && selects(deployment.spec.selector, d.spec.template.metadata.labels),
    );
    if (others.length > 0)
      problems.push(`${id}: selector also matches ${others.map((d) => d.metadata.name).join(", ")}`);
    if (pod.spec.serviceAccountName !== undefined && !serviceAccounts.has(pod.spec.serviceAccountName)) {
      problems.push(`${id}: ServiceAccount ${pod.spec.serviceAccountName} is not in the manifests`);
    }

    const podSecurity = pod.spec.securityContext;
    if (!podSecurity) problems.push(`${id}: no pod securityContext`);
    else {
      if (!podSecurity.runAsNonRoot) problems.push(`${id}: pod securityContext.runAsNonRoot must be true`);
      if (podSecurity.runAsUser !== IMAGE_UID)
        problems.push(`${id}: pod securityContext.runAsUser must be ${IMAGE_UID}`);
      if (podSecurity.seccompProfile.type !== "RuntimeDefault")
        problems.push(`${id}: seccompProfile must be RuntimeDefault`);
    }

    const env = envOf(deployment, configMaps);
    const drainMs = Number(env.get("WORKER_DRAIN_TIMEOUT_MS") ?? WORKER_DRAIN_DEFAULT_MS);
    const containers = pod.spec.containers;
    const preStopSeconds = Math.max(
      0,
      ...containers.map((c) => {
        const preStop = c.lifecycle?.preStop;
        if (preStop?.sleep) return preStop.sleep.seconds;
        const command = preStop?.exec?.command ?? [];
        return command[0] === "sleep" ? Number(command[1] ?? 0) : 0;
      }),
    );
    const neededMs =
      preStopSeconds * 1000 +
      (deployment.metadata.name.endsWith("-worker") ? drainMs + WORKER_CLOSE_MARGIN_MS : DEFAULT_SHUTDOWN_MS);
    const graceMs = (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    if (graceMs <= neededMs) {
      problems.push(
        `${id}: terminationGracePeriodSeconds ${graceMs / 1000} s is not above preStop + shutdown (${neededMs / 1000} s)`,
      );
    }

    const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
    for (const volume of volumes.values()) {
      if (volume.configMap && !configMaps.some((c) => c.metadata.name === volume.configMap?.name)) {
        problems.push(
          `${id}: volume ${volume.name} refers to ConfigMap ${volume.configMap.name}, which is not in the manifests`,
        );
      }
      if (volume.secret) secretRef(`${id} volume ${volume.name}`, volume.secret.secretName);
    }

    for (const container of containers) {
      const cid = `${id} container ${container.name}`;
      const ports = container.ports ?? [];
      for (const [kind, probe] of [
        ["startupProbe", container.startupProbe],
        ["livenessProbe", container.livenessProbe],
        ["readinessProbe", container.readinessProbe],
      ] as const) {
        if (!probe) {
          problems.push(`${cid}: no ${kind}`);
          continue;
        }
        const port = probe.httpGet.port;
        if (!ports.some((p) => p.name === port || p.containerPort === port))
          problems.push(`${cid}: ${kind} port ${port} is not a container port`);
      }
      if (container.livenessProbe && container.livenessProbe.httpGet.path !== "/healthz")
        problems.push(`${cid}: livenessProbe must use /healthz`);
      if (container.readinessProbe && container.readinessProbe.httpGet.path !== "/readyz")
        problems.push(`${cid}: readinessProbe must use /readyz`);
      const portEnv = container.env?.find((v) => v.name === "PORT")?.value;
      if (portEnv !== undefined && !ports.some((p) => p.containerPort === Number(portEnv))) {
        problems.push(`${cid}: PORT=${portEnv} is not among the container ports`);
      }

      for (const kind of ["requests", "limits"] as const) {
        const resources = container.resources[kind];
        if (!resources?.cpu || !resources.memory)
          problems.push(`${cid}: resources.${kind} needs cpu and memory`);
      }

      const security = container.securityContext;
      if (!security) problems.push(`${cid}: no securityContext`);
      else {
        if (security.allowPrivilegeEscalation !== false)
          problems.push(`${cid}: allowPrivilegeEscalation must be false`);
        if (security.readOnlyRootFilesystem !== true)
          problems.push(`${cid}: readOnlyRootFilesystem must be true`);
        if (security.privileged === true) problems.push(`${cid}: must not be privileged`);
        if (!security.capabilities.drop.includes("ALL")) problems.push(`${cid}: capabilities must drop ALL`);
        if ((security.capabilities.add ?? []).length > 0) problems.push(`${cid}: must add no capabilities`);
        if (security.runAsUser !== undefined && security.runAsUser === 0)
          problems.push(`${cid}: runAsUser 0`);
      }

      for (const mount of container.volumeMounts ?? []) {
        if (!volumes.has(mount.name)) problems.push(`${cid}: volumeMount ${mount.name} has no volume`);
      }
      for (const from of container.envFrom ?? []) {
        if (from.secretRef) secretRef(cid, from.secretRef.name);
        if (from.configMapRef && !configMaps.some((c) => c.metadata.name === from.configMapRef?.name)) {
          problems.push(`${cid}: envFrom ConfigMap ${from.configMapRef.name} is not in the manifests`);
        }
      }
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) secretRef(`${cid} env ${variable.name}`, ref.name, ref.key);
      }

      // The destinations file: mounted where HANDOFF_SYNC_CONFIG points, valid, secrets documented.
      const configPath = env.get("HANDOFF_SYNC_CONFIG");
      if (configPath !== undefined && deployment.metadata.name !== "handoff-sync-api") {
        const mount = (container.volumeMounts ?? []).find((m) => configPath.startsWith(`${m.mountPath}/`));
        const volume = mount && volumes.get(mount.name);
        const key = mount ? configPath.slice(mount.mountPath.length + 1) : undefined;
        const cm = volume?.configMap && configMaps.find((c) => c.metadata.name === volume.configMap?.name);
        const text = cm && key !== undefined ? cm.data?.[key] : undefined;
        if (text === undefined)
          problems.push(`${cid}: HANDOFF_SYNC_CONFIG=${configPath} is not a file of a mounted ConfigMap`);
        else {
          const parsed = DestinationsFileSchema.safeParse(parseAllDocuments(text)[0]?.toJS());
          if (!parsed.success)
            problems.push(
              `${cid}: destinations file: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
            );
          else {
            for (const ref of secretRefs(parsed.data)) {
              if (ref.kind !== "env") continue;
              const provided =
                (container.env ?? []).some((v) => v.name === ref.target) ||
                (container.envFrom ?? []).some((f) => f.secretRef);
              if (!provided)
                problems.push(
                  `${cid}: destinations file needs env ${ref.target}, which no env or secretRef provides`,
                );
              const credentials = (container.envFrom ?? []).find((f) => f.secretRef)?.secretRef?.name;
              if (credentials) secretRef(`${cid} destinations file`, credentials, ref.target);
            }
          }
        }
      }
    }
  }

  for (const service of services) {
    const id = `Service/${service.metadata.name}`;
    const targets = deployments.filter((d) =>
      selects({ matchLabels: service.spec.selector }, d.spec.template.metadata.labels),
    );
    if (Object.keys(service.spec.selector).length === 0 || targets.length === 0) {
      problems.push(`${id}: selector matches no Deployment's pods`);
      continue;
    }
    for (const port of service.spec.ports) {
      const target = port.targetPort ?? port.port;
      for (const deployment of targets) {
        const ports = deployment.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
        if (!ports.some((p) => p.name === target || p.containerPort === target)) {
          problems.push(`${id}: targetPort ${target} is not a container port of ${deployment.metadata.name}`);
        }
      }
    }
  }

  const deploymentNamed = (n: string): DeploymentT | undefined =>
    deployments.find((d) => d.metadata.name === n);
  for (const pdb of pdbs) {
    const matched = podLabels.filter((labels) => selects(pdb.spec.selector, labels));
    if (isEmptySelector(pdb.spec.selector) || matched.length !== 1) {
      problems.push(
        `PodDisruptionBudget/${pdb.metadata.name}: selector must match exactly one Deployment (matches ${matched.length})`,
      );
    }
    if (pdb.spec.maxUnavailable !== 1)
      problems.push(`PodDisruptionBudget/${pdb.metadata.name}: maxUnavailable must be 1`);
  }
  for (const deployment of deployments) {
    if (!pdbs.some((pdb) => selects(pdb.spec.selector, deployment.spec.template.metadata.labels))) {
      problems.push(`Deployment/${deployment.metadata.name}: no PodDisruptionBudget`);
    }
  }

  const scaledTargets = new Map<string, string>();
  for (const hpa of hpas) {
    const target = hpa.spec.scaleTargetRef;
    if (target.kind !== "Deployment" || target.apiVersion !== "apps/v1" || !deploymentNamed(target.name)) {
      problems.push(
        `HorizontalPodAutoscaler/${hpa.metadata.name}: scaleTargetRef ${target.kind}/${target.name} is not a Deployment here`,
      );
    }
    scaledTargets.set(target.name, `HorizontalPodAutoscaler/${hpa.metadata.name}`);
  }
  for (const so of scaledObjects) {
    const id = `ScaledObject/${so.metadata.name}`;
    const target = so.spec.scaleTargetRef.name;
    if (!deploymentNamed(target)) problems.push(`${id}: scaleTargetRef ${target} is not a Deployment here`);
    const other = scaledTargets.get(target);
    if (other) problems.push(`${id}: ${target} is also scaled by ${other}`);
    scaledTargets.set(target, id);
    for (const trigger of so.spec.triggers) {
      const ref = trigger.authenticationRef?.name;
      if (ref !== undefined && !triggerAuths.some((t) => t.metadata.name === ref))
        problems.push(`${id}: TriggerAuthentication ${ref} is not in the manifests`);
    }
  }
  for (const auth of triggerAuths) {
    for (const ref of auth.spec.secretTargetRef ?? [])
      secretRef(`TriggerAuthentication/${auth.metadata.name}`, ref.name, ref.key);
  }
  for (const deployment of deployments) {
    if (!scaledTargets.has(deployment.metadata.name))
      problems.push(`Deployment/${deployment.metadata.name}: neither an HPA nor a ScaledObject scales it`);
    if (deployment.spec.replicas !== undefined) {
      problems.push(
        `Deployment/${deployment.metadata.name}: sets spec.replicas, which fights its autoscaler on every apply`,
      );
    }
  }

  problems.push(...checkKeda(scaledObjects, deployments, configMaps));
  problems.push(...checkConsumerReplicas(deployments, hpas, scaledObjects));
  problems.push(...checkRedisCluster(deployments, configMaps));

  for (const policy of policies) {
    if (
      !isEmptySelector(policy.spec.podSelector) &&
      !podLabels.some((labels) => selects(policy.spec.podSelector, labels))
    ) {
      problems.push(`NetworkPolicy/${policy.metadata.name}: podSelector matches no pods`);
    }
    const selected = deployments.filter((d) =>
      selects(policy.spec.podSelector, d.spec.template.metadata.labels),
    );
    // A named port in an ingress rule must be a port of every pod the policy selects.
    for (const rule of policy.spec.ingress ?? []) {
      for (const port of rule.ports ?? []) {
        if (typeof port.port !== "string") continue;
        for (const deployment of selected) {
          const names = deployment.spec.template.spec.containers
            .flatMap((c) => c.ports ?? [])
            .map((p) => p.name);
          if (!names.includes(port.port))
            problems.push(
              `NetworkPolicy/${policy.metadata.name}: port ${port.port} is not a port of ${deployment.metadata.name}`,
            );
        }
      }
    }
  }
  for (const deployment of deployments) {
    const covered = policies.some(
      (p) =>
        p.spec.policyTypes.includes("Ingress") &&
        selects(p.spec.podSelector, deployment.spec.template.metadata.labels),
    );
    if (!covered)
      problems.push(`Deployment/${deployment.metadata.name}: no ingress NetworkPolicy selects its pods`);
  }

  if (monitors.length === 0) problems.push("no ServiceMonitor");
  for (const monitor of monitors) {
    const id = `ServiceMonitor/${monitor.metadata.name}`;
    const matched = services.filter((s) => selects(monitor.spec.selector, s.metadata.labels ?? {}));
    if (matched.length === 0) problems.push(`${id}: selector matches no Service`);
    for (const endpoint of monitor.spec.endpoints) {
      for (const service of matched) {
        if (endpoint.port !== undefined && !service.spec.ports.some((p) => p.name === endpoint.port)) {
          problems.push(
            `${id}: port ${endpoint.port} is not a port name of Service ${service.metadata.name}`,
          );
        }
      }
    }
  }

  if (rules.length === 0) problems.push("no PrometheusRule");
  problems.push(...checkRules(rules, docs));

  if (options.versionedImages) {
    for (const deployment of deployments) {
      for (const container of deployment.spec.template.spec.containers) {
        if (!/:\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(@sha256:[0-9a-f]{64})?$/.test(container.image)) {
          problems.push(
            `Deployment/${deployment.metadata.name}: image ${container.image} is not pinned to a version`,
          );
        }
      }
    }
  }
  return problems;
}

function secretRefs(value: unknown): SecretRef[] {
  if (value instanceof SecretRef) return [value];
  if (Array.isArray(value)) return value.flatMap(secretRefs);
  if (value !== null && typeof value === "object") return Object.values(value).flatMap(secretRefs);
  return [];
}

/** The input topic's partition count, declared on the consumer Deployment (docs/scaling.md). */
export const PARTITIONS_ANNOTATION = "handoff-sync.io/topic-partitions";

/**
 * Consumers beyond the partition count sit idle in the group and still cost a rebalance each time
 * they come and go: no autoscaler may go above the count the consumer Deployment declares.
 */
function checkConsumerReplicas(
  deployments: readonly DeploymentT[],
  hpas: readonly HorizontalPodAutoscalerT[],
  scaledObjects: readonly ScaledObjectT[],
): string[] {
  const problems: string[] = [];
  for (const deployment of deployments) {
    if (deployment.spec.template.spec.containers[0]?.name !== "consumer") continue;
    const id = `Deployment/${deployment.metadata.name}`;
    const declared = deployment.metadata.annotations?.[PARTITIONS_ANNOTATION];
    const partitions = Number(declared);
    if (declared === undefined || !Number.isInteger(partitions) || partitions < 1) {
      problems.push(`${id}: annotation ${PARTITIONS_ANNOTATION} must give the input topic's partition count`);
      continue;
    }
    for (const hpa of hpas.filter((h) => h.spec.scaleTargetRef.name === deployment.metadata.name)) {
      if (hpa.spec.maxReplicas > partitions)
        problems.push(
          `HorizontalPodAutoscaler/${hpa.metadata.name}: maxReplicas ${hpa.spec.maxReplicas} exceeds the ${partitions} partitions`,
        );
    }
    for (const so of scaledObjects.filter((o) => o.spec.scaleTargetRef.name === deployment.metadata.name)) {
      if ((so.spec.maxReplicaCount ?? 100) > partitions)
        problems.push(
          `ScaledObject/${so.metadata.name}: maxReplicaCount ${so.spec.maxReplicaCount ?? 100} exceeds the ${partitions} partitions`,
        );
    }
  }
  return problems;
}

/** REDIS_CLUSTER=true needs a prefix without hash tags and seeds in host:port form (decision 0040). */
function checkRedisCluster(deployments: readonly DeploymentT[], configMaps: readonly ConfigMapT[]): string[] {
  const problems: string[] = [];
  for (const deployment of deployments) {
    const env = envOf(deployment, configMaps);
    const id = `Deployment/${deployment.metadata.name}`;
    const cluster = env.get("REDIS_CLUSTER") === "true";
    const nodes = env.get("REDIS_CLUSTER_NODES");
    if (!cluster) {
      if (nodes !== undefined) problems.push(`${id}: REDIS_CLUSTER_NODES is set without REDIS_CLUSTER=true`);
      continue;
    }
    if (/[{}]/.test(env.get("REDIS_PREFIX") ?? "hs"))
      problems.push(`${id}: REDIS_PREFIX must not contain braces with REDIS_CLUSTER=true`);
    if (nodes !== undefined && !/^[^:\s,]+:\d+(,[^:\s,]+:\d+)*$/.test(nodes))
      problems.push(`${id}: REDIS_CLUSTER_NODES must be host:port,host:port`);
  }
  return problems;
}

function checkKeda(
  scaledObjects: readonly ScaledObjectT[],
  deployments: readonly DeploymentT[],
  configMaps: readonly ConfigMapT[],
): string[] {
  const problems: string[] = [];
  for (const so of scaledObjects) {
    const id = `ScaledObject/${so.metadata.name}`;
    const deployment = deployments.find((d) => d.metadata.name === so.spec.scaleTargetRef.name);
    if (!deployment) continue;
    const env = envOf(deployment, configMaps);
    const container = deployment.spec.template.spec.containers[0]!;
    const volume = deployment.spec.template.spec.volumes?.find((v) => v.configMap);
    const configText =
      volume?.configMap &&
      configMaps.find((c) => c.metadata.name === volume.configMap?.name)?.data?.["destinations.yaml"];
    const config = configText
      ? DestinationsFileSchema.safeParse(parseAllDocuments(configText)[0]?.toJS())
      : undefined;
    if (!config?.success) {
      problems.push(`${id}: cannot read the destinations file of ${deployment.metadata.name}`);
      continue;
    }
    const destinations = Object.keys(config.data.destinations);
    const prefix = env.get("REDIS_PREFIX") ?? "hs";
    const redisLists = new Set<string>();
    for (const trigger of so.spec.triggers) {
      if (trigger.type === "kafka") {
        if (trigger.metadata.topic !== config.data.source.topic)
          problems.push(
            `${id}: kafka topic ${trigger.metadata.topic} is not source.topic ${config.data.source.topic}`,
          );
        if (trigger.metadata.consumerGroup !== env.get("KAFKA_GROUP_ID"))
          problems.push(
            `${id}: consumerGroup ${trigger.metadata.consumerGroup} is not KAFKA_GROUP_ID ${env.get("KAFKA_GROUP_ID")}`,
          );
        if (trigger.metadata.bootstrapServers !== env.get("KAFKA_BROKERS"))
          problems.push(`${id}: bootstrapServers differ from KAFKA_BROKERS`);
        if (trigger.metadata.allowIdleConsumers === "true")
          problems.push(`${id}: allowIdleConsumers would scale consumers past the partition count`);
      } else {
        // A plain redis trigger on a cluster asks one node, which may not serve the list's slot.
        const cluster = env.get("REDIS_CLUSTER") === "true";
        if (cluster && trigger.type === "redis")
          problems.push(
            `${id}: a redis trigger reads one node of the cluster; use redis-cluster (REDIS_CLUSTER=true)`,
          );
        if (!cluster && trigger.type === "redis-cluster")
          problems.push(`${id}: a redis-cluster trigger without REDIS_CLUSTER=true`);
        if (trigger.type === "redis-cluster" && trigger.metadata.addresses !== undefined) {
          const seeds = new Set((env.get("REDIS_CLUSTER_NODES") ?? "").split(",").filter((n) => n !== ""));
          for (const address of trigger.metadata.addresses.split(",").map((a) => a.trim()))
            if (!seeds.has(address))
              problems.push(`${id}: redis-cluster address ${address} is not in REDIS_CLUSTER_NODES`);
        }
        redisLists.add(trigger.metadata.listName);
      }
    }
    if (container.name === "worker") {
      for (const destination of destinations) {
        const names = destinationQueueNames(prefix, destination);
        const list = `${names.prefix}:${names.deliver}:wait`;
        if (!redisLists.has(list))
          problems.push(`${id}: no redis trigger on ${list} (destination ${destination})`);
        redisLists.delete(list);
      }
      for (const list of redisLists)
        problems.push(`${id}: redis trigger on ${list}, which is no destination's wait list`);
    }
  }
  return problems;
}

function checkRules(rules: readonly PrometheusRuleT[], docs: Docs): string[] {
  const problems: string[] = [];
  const contract = new Set([...docs.runbookText.matchAll(/`(handoff_sync_[a-z0-9_]+)`/g)].map((m) => m[1]!));
  const alerts = new Set<string>();
  for (const rule of rules.flatMap((r) => r.spec.groups.flatMap((g) => g.rules))) {
    if (rule.alert === undefined) continue;
    const id = `alert ${rule.alert}`;
    alerts.add(rule.alert);
    if (!["critical", "warning", "info"].includes(rule.labels?.severity ?? ""))
      problems.push(`${id}: severity must be critical, warning or info`);
    if (!rule.annotations?.summary) problems.push(`${id}: no summary annotation`);
    const url = rule.annotations?.runbook_url ?? "";
    const fragment = /^docs\/runbook\.md#([a-z0-9_-]+)$/.exec(url)?.[1];
    if (!fragment) problems.push(`${id}: runbook_url ${url} must be docs/runbook.md#<section>`);
    else if (!docs.runbookAnchors.has(fragment))
      problems.push(`${id}: docs/runbook.md has no section #${fragment}`);
    for (const metric of rule.expr.matchAll(/\b(handoff_sync_[a-z0-9_]+)/g)) {
      if (!contract.has(metric[1]!))
        problems.push(`${id}: metric ${metric[1]} is not in the metrics contract of docs/runbook.md`);
    }
    if ((rule.expr.match(/\(/g) ?? []).length !== (rule.expr.match(/\)/g) ?? []).length)
      problems.push(`${id}: unbalanced parentheses`);
  }
  for (const required of [
    "HandoffSyncDeadLettersGrowing",
    "HandoffSyncConsumerLagRising",
    "HandoffSyncDestinationParked",
    "HandoffSyncDeliveryErrorRatioHigh",
    "HandoffSyncRedisMemoryHigh",
  ]) {
    if (!alerts.has(required)) problems.push(`alert ${required} is missing`);
  }
  return problems;
}
