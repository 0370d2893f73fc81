import type { HandoffStore } from "@handoff-sync/store";
import { readiness, type Logger, type ReadinessCheck } from "@handoff-sync/telemetry";
import Fastify from "fastify";
import { z } from "zod";
import { sendProblem } from "./problem.js";

export interface ApiSettings {
  readonly store: HandoffStore;
  readonly log: Logger;
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
}

const HandoffQuerySchema = z.object({
  shared_id: z.string().min(1).max(200).optional(),
  id: z.string().min(1).max(200).optional(),
});

export function buildApi(settings: ApiSettings) {
  const app = Fastify({ loggerInstance: settings.log, disableRequestLogging: true });
  let shuttingDown = false;
  app.addHook("onClose", () => {
    shuttingDown = true;
  });

  app.get("/healthz", () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const checks = await readiness(settings.checks);
    const ready = !shuttingDown && Object.values(checks).every((c) => c === "ok");
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready", checks });
  });

  app.get("/v1/handoffs", async (request, reply) => {
    const query = HandoffQuerySchema.safeParse(request.query);
    if (!query.success) {
      return sendProblem(reply, 400, "Invalid query", query.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
    }
    const { shared_id: sharedId, id } = query.data;
    if (sharedId === undefined && id === undefined) {
      return sendProblem(reply, 400, "Missing identifier", "give shared_id or id");
    }
    // shared_id wins when both are given, and an unknown shared_id never falls back to id.
    const lookup = sharedId !== undefined ? ({ kind: "shared_id", value: sharedId } as const) : ({ kind: "id", value: id ?? "" } as const);
    const key = await settings.store.findKey(lookup);
    const snapshot = key === undefined ? undefined : await settings.store.get(key);
    if (!snapshot) return sendProblem(reply, 404, "Handoff not found", `no handoff with ${lookup.kind} ${lookup.value}`);
    return {
      id: snapshot.id,
      shared_id: snapshot.shared_id ?? null,
      key: snapshot.key,
      state: snapshot.state,
      stage: snapshot.stage,
      version: snapshot.version,
      occurred_at: snapshot.occurred_at,
      data: snapshot.data,
      history: snapshot.history.map((entry) => ({
        event_id: entry.event_id,
        state: entry.state,
        occurred_at: entry.occurred_at,
        received_at: entry.received_at,
        ...(entry.anomaly !== undefined ? { anomaly: entry.anomaly } : {}),
      })),
      deliveries: await settings.store.getDeliveries(snapshot.key),
    };
  });

  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, "Not found", `no route ${request.method} ${request.url}`));
  app.setErrorHandler((error, _request, reply) => {
    settings.log.error({ err: error }, "request failed");
    return sendProblem(reply, 500, "Internal error", "the request could not be completed");
  });
  return app;
}
