import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import { AdminInputError, AdminNotFoundError, AdminUnavailableError, type Admin } from "@handoff-sync/admin";
import { UnknownDestinationError, type DeliveryQueues } from "@handoff-sync/queue";
import { readiness, type Logger, type ReadinessCheck, type Registry } from "@handoff-sync/telemetry";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import {
  authenticate,
  createFailureLimiter,
  hasScope,
  keyFingerprint,
  type KeyRing,
  type Principal,
  type Scope,
  type TrustProxy,
} from "./auth.js";
import { registerAdminRoutes } from "./admin-routes.js";
import { registerHandoffRoutes } from "./handoff-routes.js";
import { registerIngestRoutes, type IngestRouteSettings } from "./ingest-routes.js";
import { createHttpMetrics } from "./http-metrics.js";
import { openApiDocument } from "./openapi.js";
import { sendProblem } from "./problem.js";
import { QUEUE_UI_PATH, registerQueueUi, SESSION_COOKIE } from "./queue-ui.js";
import type { SessionStore } from "./sessions.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The scope a route needs; `open` needs no key. Routes without one need `read`. */
    scope?: Scope | "open";
    /** An ingestion route's endpoint label in metrics. */
    endpoint?: "events" | "chat_respond" | "chat_close" | "sip";
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
  readonly keys: KeyRing;
  readonly sessions: SessionStore;
  /** The account and project the seed-compatible endpoint answers for; others are 404. */
  readonly account?: { readonly accountId: string; readonly projectId: string };
  readonly auth: {
    readonly failureLimit: number;
    /** Invalid keys from all clients together before every invalid key is answered 429. */
    readonly globalFailureLimit: number;
    readonly failureWindowMs: number;
    readonly maxLockoutMs: number;
  };
  readonly sessionTtlMs: number;
  readonly secureCookies: boolean;
  readonly trustProxy: TrustProxy;
  readonly now?: () => number;
  /** HTTP ingestion (POST /v1/ingest/...); absent, those routes are 404. */
  readonly ingest?: Omit<IngestRouteSettings, "registry" | "log" | "now">;
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers["x-api-key"];
  if (typeof header === "string" && header !== "") return header;
  const authorization = request.headers.authorization;
  if (authorization?.startsWith("Bearer ")) return authorization.slice("Bearer ".length).trim();
  return undefined;
}

export function buildApi(settings: ApiSettings) {
  // A hop count as fastify applies it at run time (its types omit the number form): the `hops`
  // closest addresses are proxies, the next one is the client.
  const hops = settings.trustProxy;
  const trustProxy =
    hops === false
      ? false
      : typeof hops === "number"
        ? (_address: string, hop: number) => hop < hops
        : [...hops];
  const app = Fastify({ loggerInstance: settings.log, disableRequestLogging: true, trustProxy });
  const now = settings.now ?? Date.now;
  const { failureLimit, globalFailureLimit, failureWindowMs, maxLockoutMs } = settings.auth;
  const perClient = createFailureLimiter({ limit: failureLimit, windowMs: failureWindowMs, maxLockoutMs });
  // Client addresses can be many (IPv6, a botnet) or, behind a misconfigured proxy, forged: one
  // bucket for every client bounds guessing whatever the address says. Valid keys pass regardless.
  const allClients = createFailureLimiter({
    limit: globalFailureLimit,
    windowMs: failureWindowMs,
    maxLockoutMs,
    maxClients: 1,
  });
  const ALL = "*";
  const metrics = createHttpMetrics(settings.registry);
  let shuttingDown = false;
  app.addHook("onClose", () => {
    shuttingDown = true;
  });
  app.decorateRequest("principal", null);
  void app.register(cookie);
  void app.register(formbody);

  /**
   * Called only once a key proved invalid: a valid key is never delayed, so a client that keeps
   * failing behind the same ingress address locks nobody out but itself. A locked-out client's
   * invalid keys are answered 429 and not counted again; the lockout doubles on the next failure
   * after it ends.
   */
  const refuseFailure = (request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined => {
    const at = now();
    const lockedMs = Math.max(perClient.lockedFor(request.ip, at), allClients.lockedFor(ALL, at));
    if (lockedMs > 0) {
      const seconds = Math.ceil(lockedMs / 1000);
      void reply.header("retry-after", String(seconds));
      return sendProblem(
        reply,
        429,
        "Too many failed attempts",
        `too many invalid API keys; retry in ${seconds} s`,
      );
    }
    const lockout = perClient.fail(request.ip, at);
    if (lockout > 0)
      settings.log.warn(
        { client: request.ip, lockoutMs: lockout },
        "client locked out after repeated invalid API keys",
      );
    const everyone = allClients.fail(ALL, at);
    if (everyone > 0)
      settings.log.warn(
        { lockoutMs: everyone },
        "invalid API keys from all clients over the limit; every invalid key is refused for a while",
      );
    return undefined;
  };

  app.addHook("onRequest", async (request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    if (path === QUEUE_UI_PATH || path.startsWith(`${QUEUE_UI_PATH}/`)) {
      const sessionId = request.cookies[SESSION_COOKIE];
      const session = sessionId === undefined ? undefined : await settings.sessions.get(sessionId);
      // The session lasts only as long as its key: removed (on reload or restart), the session ends;
      // narrowed, the session narrows with it.
      const key =
        session === undefined
          ? undefined
          : settings.keys.current().find((k) => keyFingerprint(k) === session.key);
      if (key !== undefined && hasScope(key, "read")) {
        request.principal = { name: key.name, scopes: key.scopes };
        return;
      }
      if (session !== undefined && sessionId !== undefined) {
        await settings.sessions.destroy(sessionId);
        settings.log.info(
          { audit: { actor: session.name, action: "queue_ui.session_revoked" } },
          "queue UI session ended: its API key is no longer configured",
        );
      }
      if (request.method === "GET" && !path.startsWith(`${QUEUE_UI_PATH}/api/`))
        return reply.redirect("/admin/login", 303);
      return sendProblem(reply, 401, "Not signed in", "sign in at /admin/login");
    }
    const required = request.routeOptions.config.scope ?? "read";
    if (required === "open") return;
    const presented = presentedKey(request);
    if (presented === undefined) {
      return sendProblem(reply, 401, "Unauthorized", "send an API key in the x-api-key header");
    }
    const principal = authenticate(settings.keys.current(), presented);
    if (!principal) {
      return (
        refuseFailure(request, reply) ?? sendProblem(reply, 401, "Unauthorized", "the API key is not valid")
      );
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

  registerHandoffRoutes(app, {
    admin: settings.admin,
    ...(settings.account ? { account: settings.account } : {}),
  });
  registerAdminRoutes(app, { admin: settings.admin });
  if (settings.ingest !== undefined)
    registerIngestRoutes(app, {
      ...settings.ingest,
      registry: settings.registry,
      log: settings.log,
      ...(settings.now !== undefined ? { now: settings.now } : {}),
    });
  registerQueueUi(app, {
    queues: settings.queues,
    keys: settings.keys,
    sessions: settings.sessions,
    sessionTtlMs: settings.sessionTtlMs,
    secureCookies: settings.secureCookies,
    refuseFailure,
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, "Not found", `no route ${request.method} ${request.url.split("?")[0] ?? ""}`),
  );
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof AdminNotFoundError || error instanceof UnknownDestinationError)
      return sendProblem(reply, 404, "Not found", error.message);
    if (error instanceof AdminInputError) return sendProblem(reply, 400, "Invalid request", error.message);
    if (error instanceof AdminUnavailableError) return sendProblem(reply, 503, "Unavailable", error.message);
    const status =
      typeof error === "object" &&
      error !== null &&
      "statusCode" in error &&
      typeof error.statusCode === "number"
        ? error.statusCode
        : 500;
    if (status >= 400 && status < 500)
      return sendProblem(
        reply,
        status,
        "Invalid request",
        error instanceof Error ? error.message : "the request was not understood",
      );
    settings.log.error({ err: error }, "request failed");
    return sendProblem(reply, 500, "Internal error", "the request could not be completed");
  });
  return app;
}

export type Api = ReturnType<typeof buildApi>;
