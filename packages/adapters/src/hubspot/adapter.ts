import type { LookupFunction } from "node:net";
import type { HubSpotDestination, Resolved } from "@handoff-sync/config";
import {
  DestinationError,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type ApiUsage,
} from "@handoff-sync/schema";
import type { Adapter, DeliveryRequest, DeliveryResult, PreviewRequest } from "../contract.js";
import { maskHeaders } from "../http/mask-headers.js";
import {
  createDestinationHttp,
  destinationHttpSettings,
  USER_AGENT,
  type HttpResponse,
  type ProxySettings,
} from "../http/destination-http.js";
import { createHubSpotAuth } from "./auth.js";
import { classifyHubSpotResponse, type HubSpotOperation, type HubSpotOutcome } from "./classify.js";
import { associationBody, contactToAssociate, hubSpotProperties, hubSpotUpsertBody } from "./mapping.js";
import { createHubSpotBatching } from "./batch.js";
import { parseBatchResponse, parseHubSpotUsage, resultFor } from "./response.js";
import { withUsage } from "../http/usage.js";

export type HubSpotConfig = Resolved<HubSpotDestination>;

export interface HubSpotAdapterOptions {
  /** Injected in tests; defaults to the wall clock. */
  readonly nowMs?: () => number;
  /** Injected in tests; defaults to `dns.lookup`. */
  readonly lookup?: LookupFunction;
  /** From HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read by the service's config. */
  readonly proxy?: ProxySettings;
  /** Told the quota usage each answer reports (X-HubSpot-RateLimit-*), for the request budget. */
  readonly onUsage?: (usage: ApiUsage) => void;
}

/**
 * HubSpot CRM v3: one batch upsert (a single input) by the unique `id_property`, so retries and
 * replays after an ambiguous failure land on the same record; then, when the handoff names a contact,
 * one v4 association PUT, which is idempotent too. HubSpot has no conditional write, so the ledger's
 * version check is the only guard against an older version landing last.
 */
export function createHubSpotAdapter(
  name: string,
  config: HubSpotConfig,
  options: HubSpotAdapterOptions = {},
): Adapter {
  const now = options.nowMs ?? Date.now;
  const http = withUsage(
    createDestinationHttp(destinationHttpSettings(name, config, options)),
    parseHubSpotUsage,
    options.onUsage,
  );

  const baseUrl = config.base_url.replace(/\/+$/, "");
  const auth = createHubSpotAuth(config.auth, http, `${baseUrl}/`, now);
  const objectPath = encodeURIComponent(config.object);

  /** Sends one call of a delivery and classifies it; renews an OAuth token once per delivery. */
  function caller(signal: AbortSignal | undefined, beforeWrite: (() => Promise<void>) | undefined) {
    let renewed = false;
    return async function call(
      operation: HubSpotOperation,
      method: "POST" | "PATCH" | "PUT",
      path: string,
      body: unknown,
      input?: { idProperty: string; id: string },
    ): Promise<{ outcome: HubSpotOutcome; response: HttpResponse }> {
      for (;;) {
        const authorization = await auth.authorization(signal);
        // Every call of a delivery writes (upsert, update, association).
        await beforeWrite?.();
        const response = await http.send({
          method,
          url: `${baseUrl}${path}`,
          headers: { authorization, "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify(body),
          signal,
        });
        const ok = response.status === 200 || response.status === 201 || response.status === 204;
        const outcome = classifyHubSpotResponse(
          {
            status: response.status,
            headers: response.headers,
            body: response.json(),
            ...(ok ? {} : { responseExcerpt: response.excerpt() }),
          },
          {
            operation,
            nowMs: now(),
            canRenewToken: auth.renewable && !renewed,
            ...(input === undefined ? {} : { input }),
          },
        );
        if (outcome !== "renew_token") return { outcome, response };
        renewed = true;
        await auth.renew(authorization, signal);
      }
    };
  }
  type Call = ReturnType<typeof caller>;

  function fail(outcome: Exclude<HubSpotOutcome, "ok">, response: HttpResponse): never {
    if (typeof outcome !== "string") throw outcome;
    // Only reachable if the classifier grows an outcome this adapter does not handle yet.
    throw new RetryableDeliveryError(`HubSpot answered ${response.status} (${outcome})`, {
      status: response.status,
    });
  }

  /** Links the written record to the contact the handoff names, when it names one. */
  async function associateContact(
    snapshot: DeliveryRequest["snapshot"],
    destination: string,
    recordId: string,
    call: Call,
  ): Promise<void> {
    const contact = contactToAssociate(snapshot, destination, config);
    if (contact.kind === "invalid") {
      throw new PermanentDeliveryError(
        `handoff ${snapshot.key} names a contact at ${config.contact_association.path} that is not a HubSpot record id; ${config.object} record ${recordId} was written without the association`,
      );
    }
    if (contact.kind === "contact") {
      const path = `/crm/v4/objects/${objectPath}/${encodeURIComponent(recordId)}/associations/contacts/${contact.id}`;
      const { outcome, response } = await call("associate", "PUT", path, associationBody(config));
      if (outcome !== "ok") fail(outcome, response);
    }
  }

  async function deliver({
    snapshot,
    destination,
    previous,
    signal,
    beforeWrite,
  }: DeliveryRequest): Promise<DeliveryResult> {
    const call = caller(signal, beforeWrite);

    const properties = hubSpotProperties(snapshot, destination, config);
    let recordId: string;
    let status: number;

    if (config.on_missing_record === "park" && previous?.recordId !== undefined) {
      // An upsert would silently recreate a deleted record; an update by id notices it is gone.
      const { outcome, response } = await call(
        "update",
        "PATCH",
        `/crm/v3/objects/${objectPath}/${encodeURIComponent(previous.recordId)}`,
        { properties },
      );
      if (outcome === "record_missing") {
        throw new DestinationError(
          `HubSpot ${config.object} record ${previous.recordId} for handoff ${snapshot.key} no longer exists`,
          {
            status: response.status,
            responseExcerpt: response.excerpt(),
            adminHint: `The record was deleted in HubSpot. Restore it from the recycle bin, or set on_missing_record: recreate on destination "${name}" to create it again, then resume the queue.`,
          },
        );
      }
      if (outcome !== "ok") fail(outcome, response);
      recordId = previous.recordId;
      status = response.status;
    } else {
      const input = { idProperty: config.id_property, id: snapshot.key };
      const { outcome, response } = await call(
        "upsert",
        "POST",
        `/crm/v3/objects/${objectPath}/batch/upsert`,
        hubSpotUpsertBody(snapshot.key, config.id_property, properties),
        input,
      );
      if (outcome !== "ok") fail(outcome, response);
      const batch = parseBatchResponse(response.json());
      const result = batch === undefined ? undefined : resultFor(batch, input.idProperty, input.id);
      if (result === undefined)
        throw new RetryableDeliveryError(`HubSpot answered ${response.status} without the record`, {
          status: response.status,
        });
      recordId = result.id;
      status = response.status;
    }

    await associateContact(snapshot, destination, recordId, call);
    return { recordId, status };
  }

  /** What `deliver` sends, without a token; the record id of a first upsert is only known from its answer. */
  function preview({ snapshot, destination, previous }: DeliveryRequest): PreviewRequest[] {
    const headers = maskHeaders({
      "user-agent": USER_AGENT,
      authorization: "Bearer ****",
      "content-type": "application/json",
      accept: "application/json",
    });
    const properties = hubSpotProperties(snapshot, destination, config);
    const requests: PreviewRequest[] = [];
    const recordId = previous?.recordId;
    if (config.on_missing_record === "park" && recordId !== undefined) {
      requests.push({
        method: "PATCH",
        url: `${baseUrl}/crm/v3/objects/${objectPath}/${encodeURIComponent(recordId)}`,
        headers,
        body: JSON.stringify({ properties }),
        note: "update the record the ledger names",
      });
    } else {
      requests.push({
        method: "POST",
        url: `${baseUrl}/crm/v3/objects/${objectPath}/batch/upsert`,
        headers,
        body: JSON.stringify(hubSpotUpsertBody(snapshot.key, config.id_property, properties)),
        note: `upsert by ${config.id_property}`,
      });
    }
    const contact = contactToAssociate(snapshot, destination, config);
    if (contact.kind === "contact") {
      requests.push({
        method: "PUT",
        url: `${baseUrl}/crm/v4/objects/${objectPath}/${recordId === undefined ? "{recordId}" : encodeURIComponent(recordId)}/associations/contacts/${contact.id}`,
        headers,
        body: JSON.stringify(associationBody(config)),
        note: "associate the contact ({recordId}: the id the upsert answers with)",
      });
    }
    return requests;
  }

  /**
   * Authenticates (minting a token for OAuth) and reads a record by an id_property value no handoff
   * has: a 404 proves the token, the scopes and the object type; nothing is written.
   */
  async function check(): Promise<void> {
    const url = `${baseUrl}/crm/v3/objects/${objectPath}/handoff-sync-check?idProperty=${encodeURIComponent(config.id_property)}`;
    for (let renewed = false; ; renewed = true) {
      const authorization = await auth.authorization();
      const response = await http.send({
        method: "GET",
        url,
        headers: { authorization, accept: "application/json" },
      });
      const outcome = classifyHubSpotResponse(
        {
          status: response.status,
          headers: response.headers,
          body: response.json(),
          responseExcerpt: response.excerpt(),
        },
        { operation: "update", nowMs: now(), canRenewToken: auth.renewable && !renewed },
      );
      if (outcome === "ok" || outcome === "record_missing") return;
      if (outcome !== "renew_token") throw outcome;
      await auth.renew(authorization);
    }
  }

  const batch = createHubSpotBatching({
    config,
    http,
    auth,
    baseUrl,
    now,
    associate: (request, recordId) =>
      associateContact(
        request.snapshot,
        request.destination,
        recordId,
        caller(request.signal, request.beforeWrite),
      ),
    previewOne: preview,
  });

  return { type: "hubspot", deliver, preview, check, batch, close: () => http.close() };
}
