/**
 * Strict schemas for the subset of Kubernetes (and Prometheus Operator, KEDA) objects that
 * infra/k8s uses. Every object is a z.strictObject, so a misspelt or unknown field fails, which
 * neither `kubectl kustomize` nor client-side model libraries catch. A field the manifests start
 * using must be added here first: that is the point.
 */
import { z } from "zod";

const name = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "a DNS-1123 name")
  .max(253);
const labelMap = z.record(z.string(), z.string());
const quantity = z
  .string()
  .regex(/^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, "a Kubernetes quantity such as 100m or 128Mi");
const duration = z.string().regex(/^(\d+(ms|s|m|h|d))+$/, "a Prometheus duration such as 30s or 5m");
const portName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
  .max(15);
const portNumber = z.number().int().min(1).max(65_535);
const intOrString = z.union([portNumber, portName]);
const protocol = z.enum(["TCP", "UDP", "SCTP"]);

export const ObjectMeta = z.strictObject({
  name,
  namespace: name.optional(),
  labels: labelMap.optional(),
  annotations: labelMap.optional(),
});

export const LabelSelector = z.strictObject({
  matchLabels: labelMap.optional(),
  matchExpressions: z
    .array(
      z.strictObject({
        key: z.string(),
        operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

const HttpGet = z.strictObject({
  path: z.string().startsWith("/"),
  port: intOrString,
  scheme: z.enum(["HTTP", "HTTPS"]).optional(),
});

const Probe = z.strictObject({
  httpGet: HttpGet,
  initialDelaySeconds: z.number().int().min(0).optional(),
  periodSeconds: z.number().int().min(1).optional(),
  timeoutSeconds: z.number().int().min(1).optional(),
  successThreshold: z.number().int().min(1).optional(),
  failureThreshold: z.number().int().min(1).optional(),
});

const KeyRef = z.strictObject({ name, key: z.string().min(1), optional: z.boolean().optional() });
const EnvVar = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
  // A YAML number here is rejected by the API server: env values are strings.
  value: z.string().optional(),
  valueFrom: z
    .strictObject({
      secretKeyRef: KeyRef.optional(),
      configMapKeyRef: KeyRef.optional(),
      fieldRef: z.strictObject({ fieldPath: z.string(), apiVersion: z.string().optional() }).optional(),
    })
    .optional(),
});
const EnvFrom = z.strictObject({
  prefix: z.string().optional(),
  configMapRef: z.strictObject({ name, optional: z.boolean().optional() }).optional(),
  secretRef: z.strictObject({ name, optional: z.boolean().optional() }).optional(),
});

const Resources = z.strictObject({
  cpu: quantity.optional(),
  memory: quantity.optional(),
  "ephemeral-storage": quantity.optional(),
});

const ContainerSecurityContext = z.strictObject({
  allowPrivilegeEscalation: z.boolean(),
  readOnlyRootFilesystem: z.boolean(),
  runAsNonRoot: z.boolean().optional(),
  runAsUser: z.number().int().optional(),
  runAsGroup: z.number().int().optional(),
  privileged: z.boolean().optional(),
  capabilities: z.strictObject({ drop: z.array(z.string()), add: z.array(z.string()).optional() }),
  seccompProfile: z
    .strictObject({ type: z.enum(["RuntimeDefault", "Localhost"]), localhostProfile: z.string().optional() })
    .optional(),
});

const Container = z.strictObject({
  name,
  image: z.string().min(1),
  imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  ports: z
    .array(z.strictObject({ name: portName, containerPort: portNumber, protocol: protocol.optional() }))
    .optional(),
  env: z.array(EnvVar).optional(),
  envFrom: z.array(EnvFrom).optional(),
  resources: z.strictObject({ requests: Resources.optional(), limits: Resources.optional() }),
  startupProbe: Probe.optional(),
  livenessProbe: Probe.optional(),
  readinessProbe: Probe.optional(),
  lifecycle: z
    .strictObject({
      preStop: z
        .strictObject({
          exec: z.strictObject({ command: z.array(z.string()).min(1) }).optional(),
          sleep: z.strictObject({ seconds: z.number().int().min(1) }).optional(),
        })
        .optional(),
    })
    .optional(),
  securityContext: ContainerSecurityContext.optional(),
  volumeMounts: z
    .array(
      z.strictObject({
        name,
        mountPath: z.string().startsWith("/"),
        readOnly: z.boolean().optional(),
        subPath: z.string().optional(),
      }),
    )
    .optional(),
});

const Volume = z.strictObject({
  name,
  configMap: z
    .strictObject({
      name,
      items: z.array(z.strictObject({ key: z.string(), path: z.string() })).optional(),
      defaultMode: z.number().int().optional(),
      optional: z.boolean().optional(),
    })
    .optional(),
  secret: z
    .strictObject({
      secretName: name,
      items: z.array(z.strictObject({ key: z.string(), path: z.string() })).optional(),
      defaultMode: z.number().int().optional(),
      optional: z.boolean().optional(),
    })
    .optional(),
  emptyDir: z
    .strictObject({ medium: z.enum(["", "Memory"]).optional(), sizeLimit: quantity.optional() })
    .optional(),
});

const TopologySpreadConstraint = z.strictObject({
  maxSkew: z.number().int().min(1),
  topologyKey: z.string(),
  whenUnsatisfiable: z.enum(["DoNotSchedule", "ScheduleAnyway"]),
  labelSelector: LabelSelector,
});

const PodSpec = z.strictObject({
  serviceAccountName: name.optional(),
  automountServiceAccountToken: z.boolean().optional(),
  terminationGracePeriodSeconds: z.number().int().min(0).optional(),
  priorityClassName: z.string().optional(),
  nodeSelector: labelMap.optional(),
  securityContext: z
    .strictObject({
      runAsNonRoot: z.boolean(),
      runAsUser: z.number().int().optional(),
      runAsGroup: z.number().int().optional(),
      fsGroup: z.number().int().optional(),
      seccompProfile: z.strictObject({
        type: z.enum(["RuntimeDefault", "Localhost"]),
        localhostProfile: z.string().optional(),
      }),
    })
    .optional(),
  containers: z.array(Container).min(1),
  volumes: z.array(Volume).optional(),
  topologySpreadConstraints: z.array(TopologySpreadConstraint).optional(),
});

const typeMeta = <V extends string, K extends string>(apiVersion: V, kind: K) => ({
  apiVersion: z.literal(apiVersion),
  kind: z.literal(kind),
  metadata: ObjectMeta,
});

export const Deployment = z.strictObject({
  ...typeMeta("apps/v1", "Deployment"),
  spec: z.strictObject({
    replicas: z.number().int().min(0).optional(),
    revisionHistoryLimit: z.number().int().min(0).optional(),
    minReadySeconds: z.number().int().min(0).optional(),
    progressDeadlineSeconds: z.number().int().min(1).optional(),
    selector: LabelSelector,
    strategy: z
      .strictObject({
        type: z.enum(["RollingUpdate", "Recreate"]),
        rollingUpdate: z
          .strictObject({
            maxSurge: z.union([z.number().int(), z.string()]).optional(),
            maxUnavailable: z.union([z.number().int(), z.string()]).optional(),
          })
          .optional(),
      })
      .optional(),
    template: z.strictObject({
      metadata: z.strictObject({ labels: labelMap, annotations: labelMap.optional() }),
      spec: PodSpec,
    }),
  }),
});

export const Service = z.strictObject({
  ...typeMeta("v1", "Service"),
  spec: z.strictObject({
    type: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).optional(),
    selector: labelMap,
    publishNotReadyAddresses: z.boolean().optional(),
    ports: z
      .array(
        z.strictObject({
          name: portName,
          port: portNumber,
          targetPort: intOrString.optional(),
          protocol: protocol.optional(),
          appProtocol: z.string().optional(),
        }),
      )
      .min(1),
  }),
});

export const ConfigMap = z.strictObject({
  ...typeMeta("v1", "ConfigMap"),
  data: z.record(z.string(), z.string()).optional(),
  immutable: z.boolean().optional(),
});

export const ServiceAccount = z.strictObject({
  ...typeMeta("v1", "ServiceAccount"),
  automountServiceAccountToken: z.boolean().optional(),
});

export const Namespace = z.strictObject(typeMeta("v1", "Namespace"));

export const PodDisruptionBudget = z.strictObject({
  ...typeMeta("policy/v1", "PodDisruptionBudget"),
  spec: z
    .strictObject({
      maxUnavailable: z.union([z.number().int(), z.string()]).optional(),
      minAvailable: z.union([z.number().int(), z.string()]).optional(),
      selector: LabelSelector,
      unhealthyPodEvictionPolicy: z.enum(["IfHealthyBudget", "AlwaysAllow"]).optional(),
    })
    .refine(
      (spec) => (spec.maxUnavailable === undefined) !== (spec.minAvailable === undefined),
      "set exactly one of maxUnavailable and minAvailable",
    ),
});

const ScalingRules = z.strictObject({
  stabilizationWindowSeconds: z.number().int().min(0).max(3600).optional(),
  selectPolicy: z.enum(["Max", "Min", "Disabled"]).optional(),
  policies: z
    .array(
      z.strictObject({
        type: z.enum(["Pods", "Percent"]),
        value: z.number().int().min(1),
        periodSeconds: z.number().int().min(1).max(1800),
      }),
    )
    .optional(),
});
const HpaBehavior = z.strictObject({ scaleUp: ScalingRules.optional(), scaleDown: ScalingRules.optional() });

export const HorizontalPodAutoscaler = z.strictObject({
  ...typeMeta("autoscaling/v2", "HorizontalPodAutoscaler"),
  spec: z
    .strictObject({
      scaleTargetRef: z.strictObject({ apiVersion: z.string(), kind: z.string(), name }),
      minReplicas: z.number().int().min(1),
      maxReplicas: z.number().int().min(1),
      metrics: z.array(
        z.strictObject({
          type: z.literal("Resource"),
          resource: z.strictObject({
            name: z.enum(["cpu", "memory"]),
            target: z.strictObject({
              type: z.enum(["Utilization", "AverageValue"]),
              averageUtilization: z.number().int().min(1).optional(),
              averageValue: quantity.optional(),
            }),
          }),
        }),
      ),
      behavior: HpaBehavior.optional(),
    })
    .refine((spec) => spec.minReplicas <= spec.maxReplicas, "minReplicas must not exceed maxReplicas"),
});

const NetworkPolicyPeer = z.strictObject({
  podSelector: LabelSelector.optional(),
  namespaceSelector: LabelSelector.optional(),
  ipBlock: z.strictObject({ cidr: z.string(), except: z.array(z.string()).optional() }).optional(),
});
const NetworkPolicyPort = z.strictObject({
  port: intOrString.optional(),
  endPort: portNumber.optional(),
  protocol: protocol.optional(),
});

export const NetworkPolicy = z.strictObject({
  ...typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
  spec: z.strictObject({
    podSelector: LabelSelector,
    policyTypes: z.array(z.enum(["Ingress", "Egress"])).min(1),
    ingress: z
      .array(
        z.strictObject({
          from: z.array(NetworkPolicyPeer).optional(),
          ports: z.array(NetworkPolicyPort).optional(),
        }),
      )
      .optional(),
    egress: z
      .array(
        z.strictObject({
          to: z.array(NetworkPolicyPeer).optional(),
          ports: z.array(NetworkPolicyPort).optional(),
        }),
      )
      .optional(),
  }),
});

export const ServiceMonitor = z.strictObject({
  ...typeMeta("monitoring.coreos.com/v1", "ServiceMonitor"),
  spec: z.strictObject({
    selector: LabelSelector,
    jobLabel: z.string().optional(),
    namespaceSelector: z
      .strictObject({ any: z.boolean().optional(), matchNames: z.array(z.string()).optional() })
      .optional(),
    endpoints: z
      .array(
        z.strictObject({
          port: portName.optional(),
          path: z.string().startsWith("/").optional(),
          scheme: z.enum(["http", "https"]).optional(),
          interval: duration.optional(),
          scrapeTimeout: duration.optional(),
          honorLabels: z.boolean().optional(),
        }),
      )
      .min(1),
  }),
});

const Rule = z
  .strictObject({
    alert: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional(),
    record: z.string().optional(),
    expr: z.string().min(1),
    for: duration.optional(),
    keep_firing_for: duration.optional(),
    labels: labelMap.optional(),
    annotations: labelMap.optional(),
  })
  .refine(
    (rule) => (rule.alert === undefined) !== (rule.record === undefined),
    "a rule is either an alert or a record",
  );

export const PrometheusRule = z.strictObject({
  ...typeMeta("monitoring.coreos.com/v1", "PrometheusRule"),
  spec: z.strictObject({
    groups: z
      .array(z.strictObject({ name: z.string(), interval: duration.optional(), rules: z.array(Rule).min(1) }))
      .min(1),
  }),
});

// KEDA trigger metadata values are all strings; unknown keys are silently ignored by KEDA, so
// they are rejected here.
const numeric = z.string().regex(/^\d+$/, "a number as a string");
const boolString = z.enum(["true", "false"]);
const KafkaTrigger = z.strictObject({
  type: z.literal("kafka"),
  name: z.string().optional(),
  metricType: z.enum(["AverageValue", "Value"]).optional(),
  authenticationRef: z
    .strictObject({
      name,
      kind: z.enum(["TriggerAuthentication", "ClusterTriggerAuthentication"]).optional(),
    })
    .optional(),
  metadata: z.strictObject({
    bootstrapServers: z.string().min(1),
    consumerGroup: z.string().min(1),
    topic: z.string().min(1),
    lagThreshold: numeric.optional(),
    activationLagThreshold: numeric.optional(),
    offsetResetPolicy: z.enum(["latest", "earliest"]).optional(),
    allowIdleConsumers: boolString.optional(),
    scaleToZeroOnInvalidOffset: boolString.optional(),
    excludePersistentLag: boolString.optional(),
    limitToPartitionsWithLag: boolString.optional(),
    sasl: z.string().optional(),
    tls: z.enum(["enable", "disable"]).optional(),
  }),
});
const RedisTrigger = z.strictObject({
  type: z.literal("redis"),
  name: z.string().optional(),
  metricType: z.enum(["AverageValue", "Value"]).optional(),
  authenticationRef: z
    .strictObject({
      name,
      kind: z.enum(["TriggerAuthentication", "ClusterTriggerAuthentication"]).optional(),
    })
    .optional(),
  metadata: z.strictObject({
    address: z
      .string()
      .regex(/^[^:\s]+:\d+$/, "host:port")
      .optional(),
    addressFromEnv: z.string().optional(),
    listName: z.string().min(1),
    listLength: numeric,
    activationListLength: numeric.optional(),
    databaseIndex: numeric.optional(),
    enableTLS: boolString.optional(),
    unsafeSsl: boolString.optional(),
    usernameFromEnv: z.string().optional(),
    passwordFromEnv: z.string().optional(),
  }),
});

// On a Redis Cluster the wait list lives on whichever master serves its slot: KEDA's
// redis-cluster scaler finds it from the seed addresses (a plain redis trigger reads one node).
const RedisClusterTrigger = z.strictObject({
  type: z.literal("redis-cluster"),
  name: z.string().optional(),
  metricType: z.enum(["AverageValue", "Value"]).optional(),
  authenticationRef: z
    .strictObject({
      name,
      kind: z.enum(["TriggerAuthentication", "ClusterTriggerAuthentication"]).optional(),
    })
    .optional(),
  metadata: z.strictObject({
    addresses: z
      .string()
      .regex(/^[^:\s,]+:\d+(,\s*[^:\s,]+:\d+)*$/, "host:port,host:port")
      .optional(),
    addressesFromEnv: z.string().optional(),
    listName: z.string().min(1),
    listLength: numeric,
    activationListLength: numeric.optional(),
    enableTLS: boolString.optional(),
    unsafeSsl: boolString.optional(),
    usernameFromEnv: z.string().optional(),
    passwordFromEnv: z.string().optional(),
  }),
});

export const ScaledObject = z.strictObject({
  ...typeMeta("keda.sh/v1alpha1", "ScaledObject"),
  spec: z
    .strictObject({
      scaleTargetRef: z.strictObject({
        name,
        apiVersion: z.string().optional(),
        kind: z.string().optional(),
        envSourceContainerName: z.string().optional(),
      }),
      minReplicaCount: z.number().int().min(0).optional(),
      maxReplicaCount: z.number().int().min(1).optional(),
      idleReplicaCount: z.number().int().min(0).optional(),
      pollingInterval: z.number().int().min(1).optional(),
      cooldownPeriod: z.number().int().min(0).optional(),
      initialCooldownPeriod: z.number().int().min(0).optional(),
      fallback: z
        .strictObject({ failureThreshold: z.number().int().min(1), replicas: z.number().int().min(0) })
        .optional(),
      advanced: z
        .strictObject({
          restoreToOriginalReplicaCount: z.boolean().optional(),
          horizontalPodAutoscalerConfig: z
            .strictObject({ name: z.string().optional(), behavior: HpaBehavior.optional() })
            .optional(),
        })
        .optional(),
      triggers: z
        .array(z.discriminatedUnion("type", [KafkaTrigger, RedisTrigger, RedisClusterTrigger]))
        .min(1),
    })
    .refine(
      (spec) => (spec.minReplicaCount ?? 0) <= (spec.maxReplicaCount ?? 100),
      "minReplicaCount must not exceed maxReplicaCount",
    ),
});

export const TriggerAuthentication = z.strictObject({
  ...typeMeta("keda.sh/v1alpha1", "TriggerAuthentication"),
  spec: z.strictObject({
    secretTargetRef: z.array(z.strictObject({ parameter: z.string(), name, key: z.string() })).optional(),
  }),
});

export const schemas = {
  "apps/v1/Deployment": Deployment,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "v1/ServiceAccount": ServiceAccount,
  "v1/Namespace": Namespace,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
} as const;

export type DeploymentT = z.infer<typeof Deployment>;
export type ServiceT = z.infer<typeof Service>;
export type ConfigMapT = z.infer<typeof ConfigMap>;
export type PodDisruptionBudgetT = z.infer<typeof PodDisruptionBudget>;
export type HorizontalPodAutoscalerT = z.infer<typeof HorizontalPodAutoscaler>;
export type NetworkPolicyT = z.infer<typeof NetworkPolicy>;
export type ServiceMonitorT = z.infer<typeof ServiceMonitor>;
export type PrometheusRuleT = z.infer<typeof PrometheusRule>;
export type ScaledObjectT = z.infer<typeof ScaledObject>;
export type TriggerAuthenticationT = z.infer<typeof TriggerAuthentication>;
export type NamespaceT = z.infer<typeof Namespace>;
export type LabelSelectorT = z.infer<typeof LabelSelector>;
