/**
 * Every overlay and component in infra/k8s renders with `kubectl kustomize` and passes strict
 * validation (test/unit/k8s/schemas.ts, test/unit/k8s/validate.ts). kubectl comes from
 * infra/k8s/ensure-kubectl.sh, which installs Debian's package where it is missing.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  k8sDir,
  readDocs,
  render,
  renderWithComponents,
  validate,
  type Docs,
  type K8sObject,
} from "./k8s/validate.js";

const overlays = {
  dev: { dir: join(k8sDir, "overlays/dev"), namespace: "handoff-sync-dev", versionedImages: false },
  production: { dir: join(k8sDir, "overlays/production"), namespace: "handoff-sync", versionedImages: true },
} as const;
const keda = join(k8sDir, "components/keda");
const redisCluster = join(k8sDir, "components/redis-cluster");
const kedaRedisCluster = join(k8sDir, "components/keda-redis-cluster");

type Rendered = Record<"dev" | "production" | "productionKeda" | "productionCluster", K8sObject[]>;

function byKind(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

function find(objects: readonly K8sObject[], kind: string, name: string): Record<string, unknown> {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} not rendered`);
  return found;
}

/** Renames a key at a path (e.g. misspelling a field), in a deep copy of the objects. */
function renameKey(
  objects: readonly K8sObject[],
  kind: string,
  name: string,
  path: readonly (string | number)[],
  to: string,
): K8sObject[] {
  const copy = structuredClone(objects) as K8sObject[];
  let node: Record<string | number, unknown> = find(copy, kind, name);
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (!(last in node)) throw new Error(`${kind}/${name}: no ${path.join(".")} to rename`);
  node[to] = node[last];
  delete node[last];
  return copy;
}

function setAt(
  objects: readonly K8sObject[],
  kind: string,
  name: string,
  path: readonly (string | number)[],
  value: unknown,
): K8sObject[] {
  const copy = structuredClone(objects) as K8sObject[];
  let node: Record<string | number, unknown> = find(copy, kind, name);
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
  node[path.at(-1)!] = value;
  return copy;
}

describe("infra/k8s manifests", () => {
  let docs: Docs;
  let rendered: Rendered;

  beforeAll(async () => {
    docs = await readDocs();
    const [dev, production, productionKeda, productionCluster] = await Promise.all([
      render(overlays.dev.dir),
      render(overlays.production.dir),
      renderWithComponents(overlays.production.dir, [keda], overlays.production.namespace),
      renderWithComponents(
        overlays.production.dir,
        [keda, redisCluster, kedaRedisCluster],
        overlays.production.namespace,
      ),
    ]);
    rendered = { dev, production, productionKeda, productionCluster };
  }, 300_000);

  it.each([
    ["dev", "dev"],
    ["production", "production"],
    ["production + components/keda", "productionKeda"],
    ["production + keda + redis-cluster + keda-redis-cluster", "productionCluster"],
  ] as const)("%s renders and passes strict validation", (_label, key) => {
    const overlay = overlays[key.startsWith("dev") ? "dev" : "production"];
    const objects = rendered[key];
    expect(objects.length).toBeGreaterThan(10);
    expect(
      validate(objects, docs, { namespace: overlay.namespace, versionedImages: overlay.versionedImages }),
    ).toEqual([]);
  });

  it("renders the base on its own too (without namespace)", async () => {
    expect(validate(await render(join(k8sDir, "base")), docs)).toEqual([]);
  });

  it("renders no Secret: credentials are only referenced", () => {
    for (const objects of Object.values(rendered)) expect(byKind(objects, "Secret")).toEqual([]);
  });

  it("catches a KEDA trigger left on the base's consumer group when an overlay changes KAFKA_GROUP_ID", async () => {
    // overlays/dev uses its own consumer group: adding the component there needs a trigger patch.
    const objects = await renderWithComponents(overlays.dev.dir, [keda], overlays.dev.namespace);
    expect(validate(objects, docs, { namespace: overlays.dev.namespace })).toEqual([
      "ScaledObject/handoff-sync-consumer: consumerGroup handoff-sync-consumer is not KAFKA_GROUP_ID handoff-sync-consumer-dev",
    ]);
  });

  it("the KEDA component replaces the consumer's and the worker's HPA and keeps the API's", () => {
    const hpas = byKind(rendered.productionKeda, "HorizontalPodAutoscaler").map((o) => o.metadata.name);
    expect(hpas).toEqual(["handoff-sync-api"]);
    const scaled = byKind(rendered.productionKeda, "ScaledObject")
      .map((o) => o.metadata.name)
      .sort();
    expect(scaled).toEqual(["handoff-sync-consumer", "handoff-sync-worker"]);
    expect(byKind(rendered.production, "ScaledObject")).toEqual([]);
  });

  it("the Redis Cluster components switch every service to cluster mode, the consumer to WAIT and KEDA to redis-cluster", () => {
    const env = rendered.productionCluster.find(
      (o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("handoff-sync-env"),
    ) as { data: Record<string, string> } | undefined;
    if (!env) throw new Error("no handoff-sync-env ConfigMap");
    expect(env.data).toMatchObject({ REDIS_CLUSTER: "true", REDIS_PREFIX: "hs" });
    expect(env.data.REDIS_CLUSTER_NODES?.split(",")).toHaveLength(2);
    const consumer = find(rendered.productionCluster, "Deployment", "handoff-sync-consumer") as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    expect(consumer.spec.template.spec.containers[0]?.env).toContainEqual({
      name: "REDIS_WAIT_REPLICAS",
      value: "1",
    });
    const worker = find(rendered.productionCluster, "ScaledObject", "handoff-sync-worker") as {
      spec: { triggers: { type: string; metadata: { addresses?: string } }[] };
    };
    expect(worker.spec.triggers.map((t) => t.type)).toEqual(["redis-cluster"]);
    expect(worker.spec.triggers[0]?.metadata.addresses).toBe(env.data.REDIS_CLUSTER_NODES);
  });

  it("catches a single-node redis trigger left on a cluster, braces in the prefix and seeds the trigger does not know", async () => {
    const withoutKedaPatch = await renderWithComponents(
      overlays.production.dir,
      [keda, redisCluster],
      overlays.production.namespace,
    );
    expect(validate(withoutKedaPatch, docs, { namespace: "handoff-sync" })).toEqual([
      "ScaledObject/handoff-sync-worker: a redis trigger reads one node of the cluster; use redis-cluster (REDIS_CLUSTER=true)",
    ]);
    const env = rendered.productionCluster.find(
      (o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("handoff-sync-env"),
    );
    if (!env) throw new Error("no handoff-sync-env ConfigMap");
    const braced = setAt(
      rendered.productionCluster,
      "ConfigMap",
      env.metadata.name,
      ["data", "REDIS_PREFIX"],
      "{hs}",
    );
    expect(validate(braced, docs).filter((p) => p.includes("braces"))).toEqual([
      "Deployment/handoff-sync-api: REDIS_PREFIX must not contain braces with REDIS_CLUSTER=true",
      "Deployment/handoff-sync-consumer: REDIS_PREFIX must not contain braces with REDIS_CLUSTER=true",
      "Deployment/handoff-sync-worker: REDIS_PREFIX must not contain braces with REDIS_CLUSTER=true",
    ]);
    const unknownSeed = setAt(
      rendered.productionCluster,
      "ScaledObject",
      "handoff-sync-worker",
      ["spec", "triggers", 0, "metadata", "addresses"],
      "redis-elsewhere:6379",
    );
    expect(
      validate(unknownSeed, docs).filter((p) => p.includes("addresses") || p.includes("address ")),
    ).toEqual([
      "ScaledObject/handoff-sync-worker: redis-cluster address redis-elsewhere:6379 is not in REDIS_CLUSTER_NODES",
    ]);
  });

  it("catches a consumer autoscaler that may go above the topic's partitions", () => {
    const hpa = setAt(
      rendered.production,
      "HorizontalPodAutoscaler",
      "handoff-sync-consumer",
      ["spec", "maxReplicas"],
      13,
    );
    expect(validate(hpa, docs).filter((p) => p.includes("partitions"))).toEqual([
      "HorizontalPodAutoscaler/handoff-sync-consumer: maxReplicas 13 exceeds the 12 partitions",
    ]);
    const scaled = setAt(
      rendered.productionKeda,
      "ScaledObject",
      "handoff-sync-consumer",
      ["spec", "maxReplicaCount"],
      24,
    );
    expect(validate(scaled, docs).filter((p) => p.includes("partitions"))).toEqual([
      "ScaledObject/handoff-sync-consumer: maxReplicaCount 24 exceeds the 12 partitions",
    ]);
    const undeclared = setAt(
      rendered.production,
      "Deployment",
      "handoff-sync-consumer",
      ["metadata", "annotations"],
      {},
    );
    expect(validate(undeclared, docs).filter((p) => p.includes("partition"))).toEqual([
      "Deployment/handoff-sync-consumer: annotation handoff-sync.io/topic-partitions must give the input topic's partition count",
    ]);
  });

  it("production adds egress policies and spreads pods; dev does not", () => {
    const names = (objects: K8sObject[]) => byKind(objects, "NetworkPolicy").map((o) => o.metadata.name);
    expect(names(rendered.production)).toEqual(
      expect.arrayContaining([
        "handoff-sync-egress-base",
        "handoff-sync-egress-kafka",
        "handoff-sync-egress-crm",
      ]),
    );
    expect(names(rendered.dev).some((n) => n.includes("egress"))).toBe(false);
    const worker = find(rendered.production, "Deployment", "handoff-sync-worker") as {
      spec: { template: { spec: { topologySpreadConstraints?: unknown[] } } };
    };
    expect(worker.spec.template.spec.topologySpreadConstraints?.length).toBe(2);
  });

  describe("rejects", () => {
    // A misspelt field per kind: kubectl kustomize renders these happily, the API server would
    // drop or refuse them, and the strict schemas must catch them here.
    it.each([
      ["Deployment", "handoff-sync-worker", ["spec", "revisionHistoryLimit"], "revisionHistoryLimt"],
      [
        "Deployment",
        "handoff-sync-worker",
        ["spec", "template", "spec", "terminationGracePeriodSeconds"],
        "terminationGracePeriod",
      ],
      [
        "Deployment",
        "handoff-sync-consumer",
        ["spec", "template", "spec", "containers", 0, "readinessProbe"],
        "readynessProbe",
      ],
      [
        "Deployment",
        "handoff-sync-api",
        ["spec", "template", "spec", "containers", 0, "securityContext", "readOnlyRootFilesystem"],
        "readOnlyRootFileSystem",
      ],
      ["Service", "handoff-sync-api", ["spec", "ports", 0, "targetPort"], "targetport"],
      ["PodDisruptionBudget", "handoff-sync-worker", ["spec", "maxUnavailable"], "maxUnavailabel"],
      ["HorizontalPodAutoscaler", "handoff-sync-api", ["spec", "minReplicas"], "minReplicaz"],
      ["NetworkPolicy", "handoff-sync-allow-api", ["spec", "ingress"], "ingres"],
      ["ServiceMonitor", "handoff-sync", ["spec", "endpoints", 0, "interval"], "intervall"],
      ["PrometheusRule", "handoff-sync", ["spec", "groups", 0, "rules", 0, "for"], "four"],
      [
        "ScaledObject",
        "handoff-sync-consumer",
        ["spec", "triggers", 0, "metadata", "lagThreshold"],
        "lagTreshold",
      ],
      ["ScaledObject", "handoff-sync-worker", ["spec", "maxReplicaCount"], "maxReplicas"],
      ["TriggerAuthentication", "handoff-sync-redis", ["spec", "secretTargetRef"], "secretTargetRefs"],
    ] as const)("a misspelt field: %s/%s %j -> %s", (kind, name, path, to) => {
      const objects = renameKey(rendered.productionKeda, kind, name, path, to);
      const problems = validate(objects, docs, { namespace: "handoff-sync", versionedImages: true });
      expect(
        problems.some((p) => p.startsWith(`${kind}/${name}:`) && p.includes(to)),
        problems.join("\n"),
      ).toBe(true);
    });

    it("a replicas field spelt replicaz", () => {
      const objects = setAt(
        rendered.production,
        "Deployment",
        "handoff-sync-consumer",
        ["spec", "replicaz"],
        3,
      );
      expect(validate(objects, docs).join("\n")).toMatch(/Deployment\/handoff-sync-consumer: .*replicaz/);
    });

    it.each([
      [
        "a probe on a port the container does not have",
        ["spec", "template", "spec", "containers", 0, "livenessProbe", "httpGet", "port"],
        "metrics",
        /livenessProbe port metrics is not a container port/,
      ],
      [
        "a grace period below the drain timeout",
        ["spec", "template", "spec", "terminationGracePeriodSeconds"],
        25,
        /terminationGracePeriodSeconds 25 s is not above/,
      ],
      [
        "a selector that misses the pod labels",
        ["spec", "selector", "matchLabels", "app.kubernetes.io/component"],
        "workers",
        /spec.selector does not match/,
      ],
      [
        "a container running with root privileges",
        ["spec", "template", "spec", "containers", 0, "securityContext", "allowPrivilegeEscalation"],
        true,
        /allowPrivilegeEscalation must be false/,
      ],
      [
        "an undocumented Secret",
        ["spec", "template", "spec", "containers", 0, "envFrom", 1, "secretRef", "name"],
        "crm-secrets",
        /Secret crm-secrets is not documented/,
      ],
      [
        "an env value that is a number",
        ["spec", "template", "spec", "containers", 0, "env", 0, "value"],
        8082,
        /env.0.value/,
      ],
    ] as const)("%s", (_label, path, value, message) => {
      const objects = setAt(rendered.production, "Deployment", "handoff-sync-worker", path, value);
      expect(validate(objects, docs).join("\n")).toMatch(message);
    });

    it("a Service whose targetPort is not a container port", () => {
      const objects = setAt(
        rendered.production,
        "Service",
        "handoff-sync-consumer",
        ["spec", "ports", 0, "targetPort"],
        9000,
      );
      expect(validate(objects, docs).join("\n")).toMatch(/targetPort 9000 is not a container port/);
    });

    it("a KEDA redis trigger on a list no destination uses", () => {
      const objects = setAt(
        rendered.productionKeda,
        "ScaledObject",
        "handoff-sync-worker",
        ["spec", "triggers", 0, "metadata", "listName"],
        "bull:crm-webhook:wait",
      );
      const problems = validate(objects, docs).join("\n");
      expect(problems).toMatch(/no redis trigger on hs:\{d:crm-webhook\}:deliver-crm-webhook:wait/);
      expect(problems).toMatch(/bull:crm-webhook:wait, which is no destination's wait list/);
    });

    it("a KEDA kafka trigger on another topic or group", () => {
      let objects = setAt(
        rendered.productionKeda,
        "ScaledObject",
        "handoff-sync-consumer",
        ["spec", "triggers", 0, "metadata", "topic"],
        "handoff.event",
      );
      objects = setAt(
        objects,
        "ScaledObject",
        "handoff-sync-consumer",
        ["spec", "triggers", 0, "metadata", "consumerGroup"],
        "other",
      );
      const problems = validate(objects, docs).join("\n");
      expect(problems).toMatch(/kafka topic handoff.event is not source.topic/);
      expect(problems).toMatch(/consumerGroup other is not KAFKA_GROUP_ID/);
    });

    it("an alert without a runbook section or on a metric outside the contract", () => {
      let objects = setAt(
        rendered.production,
        "PrometheusRule",
        "handoff-sync",
        ["spec", "groups", 0, "rules", 0, "annotations", "runbook_url"],
        "docs/runbook.md#nowhere",
      );
      objects = setAt(
        objects,
        "PrometheusRule",
        "handoff-sync",
        ["spec", "groups", 0, "rules", 0, "expr"],
        "handoff_sync_made_up_total > 0",
      );
      const problems = validate(objects, docs).join("\n");
      expect(problems).toMatch(/docs\/runbook.md has no section #nowhere/);
      expect(problems).toMatch(/metric handoff_sync_made_up_total is not in the metrics contract/);
    });

    it("a literal Secret in the manifests", () => {
      const secret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "handoff-sync-redis", namespace: "handoff-sync" },
        stringData: { url: "redis://x" },
      };
      expect(validate([...rendered.production, secret as unknown as K8sObject], docs).join("\n")).toMatch(
        /Secret\/handoff-sync-redis: no schema/,
      );
    });

    it("an image tag that is not a version in production", () => {
      const objects = setAt(
        rendered.production,
        "Deployment",
        "handoff-sync-api",
        ["spec", "template", "spec", "containers", 0, "image"],
        "handoff-sync/api:latest",
      );
      expect(validate(objects, docs, { versionedImages: true }).join("\n")).toMatch(
        /image handoff-sync\/api:latest is not pinned/,
      );
    });
  });
});
