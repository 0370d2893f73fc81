import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import { AdminInputError, AdminNotFoundError, AdminUnavailableError, type Admin } from "@handoff-sync/admin";
import { UnknownDestinationError, type DeliveryQueues } from "@handoff-sync/queue";
import { readiness, type Logger, type ReadinessCheck, type Registry } from "@handoff-sync/telemetry";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { authenticate, createFailureLimiter, hasScope, type ApiKey, type Principal, type Scope } from "./auth.js";
import { registerAdminRoutes } from "./admin-routes.js";
import { registerHandoffRoutes } from "./handoff-routes.js";
import { createHttpMetrics } from "./http-metrics.js";
import { openApiDocument } from "./openapi.js";
import { sendProblem } from "./problem.js";
import { QUEUE_UI_PATH, registerQueueUi, SESSION_COOKIE } from "./queue-ui.js";
import type { SessionStore } from "./sessions.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The scope a route needs; `open` needs no key. Routes without one need `read`. */
    scope?: Scope | "open";
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface ApiSettings {
  readonly admin: Admin;
  readonly queues: DeliveryQueues;
  readonly log: Logger;
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
  readonly registry: Registry;
  readonly keys: readonly ApiKey[];
  readonly sessions: SessionStore;
  /** The account and project the seed-compatible endpoint answers for; others are 404. */
  readonly account?: { readonly accountId: string; readonly projectId: string };
  readonly auth: { readonly failureLimit: number; readonly failureWindowMs: number; readonly maxLockoutMs: number };
  readonly sessionTtlMs: number;
  readonly secureCookies: boolean;
  readonly trustProxy: boolean;
  readonly now?: () => number;
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers["x-api-key"];
  if (typeof header === "string" && header !== "") return header;
  const authorization = request.headers.authorization;
  if (authorization?.startsWith("Bearer ")) return authorization.slice("Bearer ".length).trim();
  return undefined;
}

export function buildApi(settings: ApiSettings) {
  const app = Fastify({ loggerInstance: settings.log, disableRequestLogging: true, trustProxy: settings.trustProxy });
  const now = settings.now ?? Date.now;
  const limiter = createFailureLimiter({ limit: settings.auth.failureLimit, windowMs: settings.auth.failureWindowMs, maxLockoutMs: settings.auth.maxLockoutMs });
  const metrics = createHttpMetrics(settings.registry);
  let shuttingDown = false;
  app.addHook("onClose", () => {
    shuttingDown = true;
  });
  app.decorateRequest("principal", null);
  void app.register(cookie);
  void app.register(formbody);

  /** A locked-out client is refused before its key is even looked at, so guessing stalls. */
  const refuseIfLocked = (request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined => {
    const lockedMs = limiter.lockedFor(request.ip, now());
    if (lockedMs <= 0) return undefined;
    const seconds = Math.ceil(lockedMs / 1000);
    void reply.header("retry-after", String(seconds));
    return sendProblem(reply, 429, "Too many failed attempts", `too many invalid API keys from this client; retry in ${seconds} s`);
  };
  const countFailure = (request: FastifyRequest): void => {
    const lockout = limiter.fail(request.ip, now());
    if (lockout > 0) settings.log.warn({ client: request.ip, lockoutMs: lockout }, "client locked out after repeated invalid API keys");
  };

  app.addHook("onRequest", async (request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    if (path === QUEUE_UI_PATH || path.startsWith(`${QUEUE_UI_PATH}/`)) {
      const sessionId = request.cookies[SESSION_COOKIE];
      const principal = sessionId === undefined ? undefined : await settings.sessions.get(sessionId);
      if (principal && hasScope(principal, "read")) {
        request.principal = principal;
        return;
      }
      if (request.method === "GET" && !path.startsWith(`${QUEUE_UI_PATH}/api/`)) return reply.redirect("/admin/login", 303);
      return sendProblem(reply, 401, "Not signed in", "sign in at /admin/login");
    }
    const required = request.routeOptions.config.scope ?? "read";
    if (required === "open") return;
    const locked = refuseIfLocked(request, reply);
    if (locked) return locked;
    const presented = presentedKey(request);
    if (presented === undefined) {
      return sendProblem(reply, 401, "Unauthorized", "send an API key in the x-api-key header");
    }
    const principal = authenticate(settings.keys, presented);
    if (!principal) {
      countFailure(request);
      return sendProblem(reply, 401, "Unauthorized", "the API key is not valid");
    }
    if (!hasScope(principal, required)) {
      return sendProblem(reply, 403, "Forbidden", `the key ${principal.name} lacks the ${required} scope`);
    }
    request.principal = principal;
  });

  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.get("/healthz", { config: { scope: "open" } }, () => ({ status: "ok" }));
  app.get("/readyz", { config: { scope: "open" } }, async (_request, reply) => {
    const checks = await readiness(settings.checks);
    const ready = !shuttingDown && Object.values(checks).every((c) => c === "ok");
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready", checks });
  });
  // Scraped by Prometheus inside the cluster; holds no handoff data.
  app.get("/metrics", { config: { scope: "open" } }, async (_request, reply) => {
    return reply.type(settings.registry.contentType).send(await settings.registry.metrics());
  });
  app.get("/openapi.json", { config: { scope: "open" } }, () => openApiDocument());

  registerHandoffRoutes(app, { admin: settings.admin, ...(settings.account ? { account: settings.account } : {}) });
  registerAdminRoutes(app, { admin: settings.admin });
  registerQueueUi(app, {
    queues: settings.queues,
    keys: settings.keys,
    sessions: settings.sessions,
    sessionTtlMs: settings.sessionTtlMs,
    secureCookies: settings.secureCookies,
    refuseIfLocked,
    countFailure,
  });

  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, "Not found", `no route ${request.method} ${request.url.split("?")[0] ?? ""}`));
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof AdminNotFoundError || error instanceof UnknownDestinationError) return sendProblem(reply, 404, "Not found", error.message);
    if (error instanceof AdminInputError) return sendProblem(reply, 400, "Invalid request", error.message);
    if (error instanceof AdminUnavailableError) return sendProblem(reply, 503, "Unavailable", error.message);
    const status = typeof error === "object" && error !== null && "statusCode" in error && typeof error.statusCode === "number" ? error.statusCode : 500;
    if (status >= 400 && status < 500) return sendProblem(reply, status, "Invalid request", error instanceof Error ? error.message : "the request was not understood");
    settings.log.error({ err: error }, "request failed");
    return sendProblem(reply, 500, "Internal error", "the request could not be completed");
  });
  return app;
}

export type Api = ReturnType<typeof buildApi>;
