import type { ApiInstance } from "./api-instance.js";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { DeliveryQueues } from "@handoff-sync/queue";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { findKey, hasScope, keyFingerprint, type KeyRing } from "./auth.js";
import type { SessionStore } from "./sessions.js";

export const QUEUE_UI_PATH = "/admin/queues";
export const SESSION_COOKIE = "hs_session";

export interface QueueUiDeps {
  readonly queues: DeliveryQueues;
  readonly keys: KeyRing;
  readonly sessions: SessionStore;
  readonly sessionTtlMs: number;
  readonly secureCookies: boolean;
  /** Counts an invalid key; answers 429 for a locked-out client (see app.ts). */
  readonly refuseFailure: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;
}

const LoginBodySchema = z.object({ api_key: z.string().min(1).max(512) });

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

function loginPage(message?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>handoff-sync: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box;margin:.4rem 0}input,button{padding:.5rem}
.error{color:#b00020}</style></head>
<body><h1>handoff-sync queues</h1>
${message === undefined ? "" : `<p class="error" role="alert">${escapeHtml(message)}</p>`}
<form method="post" action="/admin/login">
<label for="api_key">API key</label>
<input id="api_key" name="api_key" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></body></html>`;
}

/**
 * bull-board, read-only, for every destination's delivery and dead-letter queue. Changes go
 * through the audited admin API; the UI is for looking. A login form trades an API key for an
 * HttpOnly, SameSite=Strict session cookie, so the key never sits in the browser.
 */
export function registerQueueUi(app: ApiInstance, deps: QueueUiDeps): void {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_UI_PATH);
  createBullBoard({
    queues: deps.queues
      .all()
      .flatMap((queue) => [
        new BullMQAdapter(queue.deliver, { readOnlyMode: true }),
        new BullMQAdapter(queue.dead, { readOnlyMode: true }),
      ]),
    serverAdapter,
    options: { uiConfig: { boardTitle: "handoff-sync" } },
  });
  void app.register(serverAdapter.registerPlugin(), { prefix: QUEUE_UI_PATH });

  const cookieOptions = {
    path: "/admin",
    httpOnly: true,
    sameSite: "strict",
    secure: deps.secureCookies,
  } as const;

  app.get("/admin/login", { config: { scope: "open" } }, async (_request, reply) =>
    reply.type("text/html; charset=utf-8").send(loginPage()),
  );

  app.post("/admin/login", { config: { scope: "open" } }, async (request, reply) => {
    const body = LoginBodySchema.safeParse(request.body);
    const key = body.success ? findKey(deps.keys.current(), body.data.api_key) : undefined;
    if (key === undefined) {
      const locked = deps.refuseFailure(request, reply);
      if (locked) return locked;
    }
    if (key === undefined || !hasScope(key, "read")) {
      return reply.code(401).type("text/html; charset=utf-8").send(loginPage("That API key is not valid."));
    }
    const principal = { name: key.name, scopes: key.scopes };
    const session = await deps.sessions.create({ ...principal, key: keyFingerprint(key) });
    void reply.setCookie(SESSION_COOKIE, session, {
      ...cookieOptions,
      maxAge: Math.floor(deps.sessionTtlMs / 1000),
    });
    request.log.info(
      { audit: { actor: principal.name, action: "queue_ui.login" } },
      "queue UI session started",
    );
    return reply.redirect(QUEUE_UI_PATH, 303);
  });

  app.post("/admin/logout", { config: { scope: "open" } }, async (request, reply) => {
    const session = request.cookies[SESSION_COOKIE];
    if (session !== undefined) await deps.sessions.destroy(session);
    void reply.clearCookie(SESSION_COOKIE, cookieOptions);
    return reply.redirect("/admin/login", 303);
  });
}
