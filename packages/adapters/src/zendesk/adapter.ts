import type { LookupFunction } from "node:net";
import type { Resolved, ZendeskDestination } from "@handoff-sync/config";
import { DestinationError, RetryableDeliveryError } from "@handoff-sync/schema";
import type { z } from "zod";
import type { Adapter, DeliveryRequest, DeliveryResult, PreviewRequest } from "../contract.js";
import { maskHeaders } from "../http/mask-headers.js";
import {
  destinationHttpSettings,
  createDestinationHttp,
  USER_AGENT,
  type HttpRequest,
  type HttpResponse,
  type ProxySettings,
} from "../http/destination-http.js";
import { applyMapping } from "../mapping/evaluate.js";
import { mappingView } from "../mapping/view.js";
import { createZendeskAuthorizer } from "./auth.js";
import { classifyZendeskResponse, type ZendeskOperation, type ZendeskOutcome } from "./classify.js";
import { zendeskIdempotencyKey } from "./idempotency-key.js";
import {
  buildZendeskCreateBody,
  buildZendeskUpdateBody,
  unknownZendeskTargets,
  ZENDESK_DEFAULT_MAPPING,
  type ZendeskTicketContext,
} from "./mapping.js";
import {
  isClosed,
  pickTicket,
  ticketVersion,
  ZendeskTicketListSchema,
  ZendeskTicketResponseSchema,
  type ZendeskTicket,
} from "./ticket.js";

export type ZendeskConfig = Resolved<ZendeskDestination>;

export interface ZendeskAdapterOptions {
  /** Injected in tests; defaults to the wall clock. */
  readonly nowMs?: () => number;
  /** Injected in tests; defaults to `dns.lookup`. */
  readonly lookup?: LookupFunction;
  /** From HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read by the service's config. */
  readonly proxy?: ProxySettings;
}

/** `https://{subdomain}.zendesk.com/`, or the configured url, always ending in `/` so paths join under it. */
export function zendeskBaseUrl(config: Pick<ZendeskConfig, "subdomain" | "url">): URL {
  const base = new URL(config.url ?? `https://${config.subdomain ?? ""}.zendesk.com`);
  if (!base.pathname.endsWith("/")) base.pathname = `${base.pathname}/`;
  return base;
}

function unexpected(operation: ZendeskOperation, response: HttpResponse): RetryableDeliveryError {
  // A 2xx that is not a ticket may be a proxy or maintenance page; the next attempt looks again.
  return new RetryableDeliveryError(
    `Zendesk ${operation} answered ${response.status} without the expected ticket JSON`,
    {
      status: response.status,
      responseExcerpt: response.excerpt(),
    },
  );
}

function parse<T>(schema: z.ZodType<T>, operation: ZendeskOperation, response: HttpResponse): T {
  const parsed = schema.safeParse(response.json());
  if (!parsed.success) throw unexpected(operation, response);
  return parsed.data;
}

/**
 * Zendesk Support tickets: one ticket per handoff, found by the ledger's record id or by
 * `external_id`, created with an Idempotency-Key, then updated with one comment per version. The
 * `handoff_v<version>` tag is the marker that makes a retried update a no-op, and `safe_update`
 * makes the check-then-write conditional (docs/adapters/zendesk.md).
 */
export function createZendeskAdapter(
  name: string,
  config: ZendeskConfig,
  options: ZendeskAdapterOptions = {},
): Adapter {
  const now = options.nowMs ?? Date.now;
  const baseUrl = zendeskBaseUrl(config);
  const http = createDestinationHttp(destinationHttpSettings(name, config, options));
  const authorizer = createZendeskAuthorizer(config.auth, baseUrl, http, now);
  const mapping = config.mapping ?? ZENDESK_DEFAULT_MAPPING;
  const unknownTargets = unknownZendeskTargets(mapping);
  const ticketsUrl = new URL("api/v2/tickets", baseUrl);
  const ticketUrl = (id: string | number): URL =>
    new URL(`api/v2/tickets/${encodeURIComponent(String(id))}`, baseUrl);

  /** One request; a 401 with a renewable token gets one more try with a fresh token per delivery. */
  async function call(
    operation: ZendeskOperation,
    req: HttpRequest,
    attempt: { renewed: boolean; readonly beforeWrite?: (() => Promise<void>) | undefined },
  ): Promise<{ response: HttpResponse; outcome: ZendeskOutcome }> {
    const authorization = await authorizer.authorization();
    if (req.method !== "GET") await attempt.beforeWrite?.();
    const response = await http.send({
      ...req,
      headers: { accept: "application/json", ...req.headers, authorization },
    });
    if (response.status === 401 && !attempt.renewed && authorizer.invalidate(authorization)) {
      attempt.renewed = true;
      return call(operation, req, attempt);
    }
    const outcome = classifyZendeskResponse({
      operation,
      status: response.status,
      headers: response.headers,
      body: response.text,
      responseExcerpt: response.excerpt(),
      nowMs: now(),
    });
    return { response, outcome };
  }

  function missingRecord(recordId: string, key: string, closed: boolean): DestinationError {
    return new DestinationError(
      `Zendesk ticket ${recordId} of handoff ${key} is ${closed ? "closed" : "gone (404)"} and on_missing_record is park`,
      {
        ...(closed ? {} : { status: 404 }),
        adminHint: closed
          ? `Ticket ${recordId} was closed, so it can no longer be updated. Set on_missing_record: recreate to open a follow-up ticket for later handoff states, then resume the queue.`
          : `Ticket ${recordId} was deleted in Zendesk. Restore it from Deleted tickets (Views) within 30 days, or set on_missing_record: recreate to create a new ticket, then resume the queue.`,
      },
    );
  }

  function refuseUnknownTargets(): void {
    if (unknownTargets.length > 0) {
      throw new DestinationError(
        `destination ${name} maps to unknown Zendesk fields: ${unknownTargets.join(", ")}`,
        {
          adminHint:
            "Use the Zendesk mapping targets listed in docs/adapters/zendesk.md (subject, comment, tags, priority, custom_fields.<id>, ...), then resume the queue.",
        },
      );
    }
  }

  async function deliver({
    snapshot,
    destination,
    previous,
    signal,
    beforeWrite,
  }: DeliveryRequest): Promise<DeliveryResult> {
    refuseUnknownTargets();
    const fields = applyMapping(mapping, mappingView(snapshot, name));
    const context: ZendeskTicketContext = {
      externalId: snapshot.key,
      version: snapshot.version,
      ...(config.version_field_id === undefined ? {} : { versionFieldId: config.version_field_id }),
    };
    const attempt = { renewed: false, beforeWrite };
    let target: ZendeskTicket | undefined;
    let replaces: string | undefined;
    let followupSourceId: number | undefined;

    if (previous?.recordId !== undefined) {
      const { response, outcome } = await call(
        "read",
        { method: "GET", url: ticketUrl(previous.recordId), signal },
        attempt,
      );
      if (outcome instanceof Error) throw outcome;
      const ticket =
        outcome === "ok" ? parse(ZendeskTicketResponseSchema, "read", response).ticket : undefined;
      if (ticket !== undefined && !isClosed(ticket)) {
        target = ticket;
      } else {
        if (config.on_missing_record === "park")
          throw missingRecord(previous.recordId, snapshot.key, ticket !== undefined);
        replaces = previous.recordId;
        followupSourceId = ticket?.id;
      }
    }

    if (target === undefined) {
      // Also after an ambiguous failure: the create may have committed even though we never saw the answer.
      const url = new URL(ticketsUrl);
      url.searchParams.set("external_id", snapshot.key);
      const { response, outcome } = await call("lookup", { method: "GET", url, signal }, attempt);
      if (outcome !== "ok") throw outcome === "not_found" ? unexpected("lookup", response) : outcome;
      const { tickets } = parse(ZendeskTicketListSchema, "lookup", response);
      target = pickTicket(tickets);
      if (target === undefined && followupSourceId === undefined) {
        followupSourceId = tickets
          .filter(isClosed)
          .reduce<number | undefined>((newest, t) => Math.max(newest ?? 0, t.id), undefined);
      }
    }

    if (target !== undefined) {
      // The marker: this version (or a newer one) is already on the ticket, so a retried or stale delivery adds nothing.
      if (ticketVersion(target, config.version_field_id) >= snapshot.version)
        return { recordId: String(target.id), status: 200 };
      const { ticket } = buildZendeskUpdateBody(fields, context, target);
      const body = JSON.stringify({
        ticket: {
          ...ticket,
          // Conditional write: Zendesk answers 409 if the ticket changed since we read its marker and tags.
          ...(target.updated_at === undefined ? {} : { safe_update: true, updated_stamp: target.updated_at }),
        },
      });
      const { response, outcome } = await call(
        "update",
        {
          method: "PUT",
          url: ticketUrl(target.id),
          headers: { "content-type": "application/json" },
          body,
          signal,
        },
        attempt,
      );
      if (outcome === "not_found") {
        throw new RetryableDeliveryError(`Zendesk ticket ${target.id} disappeared while being updated`, {
          status: 404,
          responseExcerpt: response.excerpt(),
        });
      }
      if (outcome !== "ok") throw outcome;
      return { recordId: String(target.id), status: response.status };
    }

    const body = JSON.stringify(
      buildZendeskCreateBody(fields, {
        ...context,
        ...(followupSourceId === undefined ? {} : { followupSourceId }),
      }),
    );
    const idempotencyKey = zendeskIdempotencyKey({
      destination,
      handoffKey: snapshot.key,
      version: snapshot.version,
      body,
      ...(replaces === undefined ? {} : { replaces }),
    });
    const { response, outcome } = await call(
      "create",
      {
        method: "POST",
        url: ticketsUrl,
        headers: { "content-type": "application/json", "idempotency-key": idempotencyKey },
        body,
        signal,
      },
      attempt,
    );
    if (outcome !== "ok") throw outcome === "not_found" ? unexpected("create", response) : outcome;
    const { ticket } = parse(ZendeskTicketResponseSchema, "create", response);
    return { recordId: String(ticket.id), status: response.status };
  }

  /**
   * What a first delivery sends when no ticket exists yet: the lookup by external_id, then the create
   * with its Idempotency-Key. Later versions update the ticket found, built from what the read
   * returns, so only the read is shown for those.
   */
  function preview({ snapshot, destination, previous }: DeliveryRequest): PreviewRequest[] {
    refuseUnknownTargets();
    const authorization = config.auth.method === "api_token" ? "Basic ****" : "Bearer ****";
    const headers = (extra: Record<string, string> = {}) =>
      maskHeaders({ "user-agent": USER_AGENT, accept: "application/json", ...extra, authorization });
    if (previous?.recordId !== undefined) {
      return [
        {
          method: "GET",
          url: ticketUrl(previous.recordId).href,
          headers: headers(),
          note: "read the ticket the ledger names; the update (PUT with safe_update) is built from its answer",
        },
      ];
    }
    const fields = applyMapping(mapping, mappingView(snapshot, name));
    const body = JSON.stringify(
      buildZendeskCreateBody(fields, {
        externalId: snapshot.key,
        version: snapshot.version,
        ...(config.version_field_id === undefined ? {} : { versionFieldId: config.version_field_id }),
      }),
    );
    const idempotencyKey = zendeskIdempotencyKey({
      destination,
      handoffKey: snapshot.key,
      version: snapshot.version,
      body,
    });
    const lookup = new URL(ticketsUrl);
    lookup.searchParams.set("external_id", snapshot.key);
    return [
      {
        method: "GET",
        url: lookup.href,
        headers: headers(),
        note: "look for a ticket with this external_id",
      },
      {
        method: "POST",
        url: ticketsUrl.href,
        headers: headers({ "content-type": "application/json", "idempotency-key": idempotencyKey }),
        body,
        note: "create the ticket when none is found",
      },
    ];
  }

  /**
   * Authenticates (fetching a token for OAuth client credentials) and searches tickets by an
   * external_id no handoff has: proves the credentials and ticket access, writing nothing.
   */
  async function check(): Promise<void> {
    const url = new URL(ticketsUrl);
    url.searchParams.set("external_id", "handoff-sync-check");
    const { response, outcome } = await call("lookup", { method: "GET", url }, { renewed: false });
    if (outcome !== "ok") throw outcome === "not_found" ? unexpected("lookup", response) : outcome;
  }

  return {
    type: "zendesk",
    // Reads the ticket (or looks it up by external id) before every write.
    readsBeforeWriting: true,
    deliver,
    preview,
    check,
    close: () => http.close(),
  };
}
