import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), "utf8");

/** Metric names the code registers, read from the sources that register them. */
function registeredMetrics(): Set<string> {
  const sources = [
    "packages/telemetry/src/delivery-metrics.ts",
    "packages/telemetry/src/ingest-metrics.ts",
    "packages/telemetry/src/http-ingest-metrics.ts",
  ]
    .map(read)
    .join("\n");
  return new Set([...sources.matchAll(/name: "(handoff_sync_[a-z_]+)"/g)].map((m) => m[1] ?? ""));
}

function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/handoff_sync_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""));
}

describe("infra/observability", () => {
  it("ships the same alert rules as the Kubernetes PrometheusRule", () => {
    const plain = parse(read("infra/observability/prometheus-rules.yaml")) as { groups: unknown };
    const operator = parse(read("infra/k8s/base/prometheusrule.yaml")) as { spec: { groups: unknown } };
    expect(plain.groups).toEqual(operator.spec.groups);
  });

  it("alerts and dashboard panels only use metrics the services register", () => {
    const known = registeredMetrics();
    expect(known.size).toBeGreaterThan(10);
    const rules = parse(read("infra/observability/prometheus-rules.yaml")) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const dashboard = JSON.parse(read("infra/observability/grafana-dashboard.json")) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const used = [
      ...rules.groups.flatMap((g) => g.rules.map((r) => ({ where: r.alert, expr: r.expr }))),
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: p.title, expr: t.expr }))),
    ];
    for (const { where, expr } of used) {
      for (const metric of metricsIn(expr)) expect(known.has(metric), `${where}: ${metric}`).toBe(true);
    }
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
  });

  it("shows and alerts on handoffs by state (the seed's 'monitor handoff failures')", () => {
    const dashboard = JSON.parse(read("infra/observability/grafana-dashboard.json")) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join("\n");
    for (const metric of [
      "handoff_sync_handoff_transitions_total",
      "handoff_sync_handoff_anomalies_total",
      "handoff_sync_handoff_initiated_to_completed_seconds_bucket",
      "handoff_sync_http_ingest_requests_total",
    ])
      expect(exprs, metric).toContain(metric);
    const rules = parse(read("infra/observability/prometheus-rules.yaml")) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.find((r) => r.alert === "HandoffSyncHandoffFailuresHigh")?.expr).toContain(
      'stage="failed"',
    );
    expect(alerts.map((r) => r.alert)).toEqual(
      expect.arrayContaining(["HandoffSyncHandoffAnomalies", "HandoffSyncIngestKafkaUnavailable"]),
    );
  });
});
