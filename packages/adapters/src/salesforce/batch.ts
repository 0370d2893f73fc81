import {
  AuthError,
  RetryableDeliveryError,
  type BatchItemOutcome,
  type DeliveryError,
} from "@handoff-sync/schema";
import { z } from "zod";
import {
  batchSendGuard,
  batchSignal,
  claimBatch,
  outcomesOf,
  RESENDS_AFTER_REFUSAL,
  stoppedByOthers,
} from "../batch/claims.js";
import type { AdapterBatching, DeliveryRequest, DeliveryResult, PreviewRequest } from "../contract.js";
import type { DestinationHttp, HttpResponse } from "../http/destination-http.js";
import { withSendGuard } from "../http/send-guard.js";
import { responseExcerpt } from "../http/response-excerpt.js";
import type { SalesforceConfig } from "./adapter.js";
import type { SalesforceTokenCache } from "./auth.js";
import type { SalesforceOperation, SalesforceOutcome } from "./classify.js";
import { buildSalesforceWrite, salesforceApiPath, salesforceKeyProblem } from "./mapping.js";

/** One save result of an sObject Collections call, in the order of the records sent. */
const SaveResultsSchema = z.array(
  z.looseObject({
    id: z.string().min(1).nullish(),
    success: z.boolean(),
    created: z.boolean().optional(),
    errors: z
      .array(
        z.looseObject({
          statusCode: z.string(),
          message: z.string().optional(),
          fields: z.array(z.string()).optional(),
        }),
      )
      .default([]),
  }),
);

export interface SalesforceBatchingDeps {
  readonly config: SalesforceConfig;
  readonly http: DestinationHttp;
  readonly tokens: SalesforceTokenCache;
  readonly instanceUrl: string;
  readonly classify: (
    status: number,
    body: unknown,
    headers: HttpResponse["headers"],
    operation: SalesforceOperation,
    excerpt: string,
  ) => SalesforceOutcome;
  readonly previewOne: (request: DeliveryRequest) => PreviewRequest[];
}

/**
 * Many deliveries in one sObject Collections upsert by the external id (at most 200 records,
 * `allOrNone: false`, so one record's failure is its own). An upsert by external id cannot create
 * a second record, so after a batch that failed ambiguously each delivery's retry simply upserts
 * again. Deliveries with a task (a composite call, all or none) and updates by the ledger's id
 * under `on_missing_record: park` go alone.
 */
export function createSalesforceBatching(deps: SalesforceBatchingDeps): AdapterBatching {
  const { config, http, tokens, instanceUrl } = deps;
  const path = salesforceApiPath(
    config.api_version,
    "composite",
    "sobjects",
    config.object,
    config.external_id_field,
  );

  /** The record as the collection takes it: its type, its external id, then the upsert's body. */
  function recordOf(request: DeliveryRequest): Record<string, unknown> {
    const write = buildSalesforceWrite(config, request.snapshot, request.destination);
    const body = write.kind === "single" ? write.request.body : {};
    return {
      attributes: { type: config.object },
      [config.external_id_field]: request.snapshot.key,
      ...body,
    };
  }

  function accepts(request: DeliveryRequest): boolean {
    if (config.on_missing_record === "park" && request.previous?.recordId !== undefined) return false;
    // A key Salesforce cannot take fails alone, with the single delivery's record-level error.
    if (salesforceKeyProblem(request.snapshot.key) !== undefined) return false;
    return buildSalesforceWrite(config, request.snapshot, request.destination).kind === "single";
  }

  function itemOutcome(
    result: z.infer<typeof SaveResultsSchema>[number] | undefined,
    response: HttpResponse,
  ): BatchItemOutcome<DeliveryResult> {
    if (result === undefined)
      return {
        ok: false,
        error: new RetryableDeliveryError("Salesforce answered the collection without this record's result", {
          status: response.status,
        }),
      };
    if (result.success && typeof result.id === "string")
      return { ok: true, value: { recordId: result.id, status: result.created === true ? 201 : 200 } };
    // The same array-of-errors shape a single upsert answers, so it is classified the same way.
    const errors = result.errors.map((entry) => ({
      errorCode: entry.statusCode,
      message: entry.message ?? "",
      fields: entry.fields ?? [],
    }));
    const outcome = deps.classify(
      400,
      errors,
      response.headers,
      "upsert",
      responseExcerpt(Buffer.from(JSON.stringify(errors))),
    );
    return { ok: false, error: typeof outcome === "string" ? unexpected(outcome, 400) : outcome };
  }

  function unexpected(outcome: string, status: number): DeliveryError {
    return outcome === "session_expired"
      ? new AuthError("Salesforce session expired again after renewal", { status })
      : new RetryableDeliveryError(`Salesforce answered ${status} (${outcome})`, { status });
  }

  async function deliverBatch(
    requests: readonly DeliveryRequest[],
  ): Promise<BatchItemOutcome<DeliveryResult>[]> {
    const answered = new Map<number, BatchItemOutcome<DeliveryResult>>();
    const refusedAll = new Map<number, unknown>();
    const records = new Map<number, Record<string, unknown>>();
    requests.forEach((request, index) => {
      try {
        records.set(index, recordOf(request));
      } catch (error) {
        refusedAll.set(index, error);
      }
    });
    let candidates = [...records.keys()];
    let renewed = false;
    let resends = 0;
    const failAll = (indexes: readonly number[], error: unknown): void => {
      for (const index of indexes) answered.set(index, { ok: false, error });
    };
    while (candidates.length > 0) {
      let token: string;
      try {
        token = await tokens.token();
      } catch (error) {
        failAll(candidates, error);
        break;
      }
      const { claimed, refused } = await claimBatch(requests, candidates);
      for (const [index, error] of refused) refusedAll.set(index, error);
      if (claimed.length === 0) break;
      const sent = claimed.map((index) => requests[index] as DeliveryRequest);
      const signal = batchSignal(sent);
      const guard = batchSendGuard(requests, claimed);
      let response: HttpResponse;
      try {
        response = await withSendGuard(guard.guard, () =>
          http.send({
            method: "PATCH",
            url: `${instanceUrl}${path}`,
            headers: {
              authorization: `Bearer ${token}`,
              "content-type": "application/json",
              accept: "application/json",
            },
            body: JSON.stringify({ allOrNone: false, records: claimed.map((index) => records.get(index)) }),
            ...(signal === undefined ? {} : { signal }),
          }),
        );
      } catch (error) {
        const stopped = guard.stopped();
        if (stopped !== undefined) {
          // Stopped unsent: each refusal is its own delivery's; the others go again, checked afresh.
          for (const [index, refusal] of stopped.refused) refusedAll.set(index, refusal);
          if (stopped.others.length > 0 && resends < RESENDS_AFTER_REFUSAL) {
            resends++;
            candidates = [...stopped.others];
            continue;
          }
          failAll(stopped.others, stoppedByOthers());
          break;
        }
        // Unanswered (a timeout, a reset): whether Salesforce wrote is unknown for every record.
        failAll(claimed, error);
        break;
      }
      const envelope = deps.classify(
        response.status,
        response.json(),
        response.headers,
        "upsert",
        response.excerpt(),
      );
      if (envelope === "session_expired" && !renewed) {
        tokens.invalidate(token);
        renewed = true;
        candidates = claimed;
        continue;
      }
      if (envelope !== "ok") {
        failAll(claimed, typeof envelope === "string" ? unexpected(envelope, response.status) : envelope);
        break;
      }
      const results = SaveResultsSchema.safeParse(response.json());
      claimed.forEach((index, position) => {
        answered.set(index, itemOutcome(results.success ? results.data[position] : undefined, response));
      });
      break;
    }
    return outcomesOf(requests.length, refusedAll, answered);
  }

  function previewBatch(requests: readonly DeliveryRequest[]): PreviewRequest[] {
    const [first] = requests;
    if (first === undefined) return [];
    const [token, single] = deps.previewOne({ snapshot: first.snapshot, destination: first.destination });
    return [
      ...(token === undefined ? [] : [token]),
      {
        method: "PATCH",
        url: `${instanceUrl}${path}`,
        headers: single?.headers ?? {},
        body: JSON.stringify({ allOrNone: false, records: requests.map(recordOf) }),
        note: `one sObject Collections upsert by ${config.external_id_field} for ${requests.length} deliveries`,
      },
    ];
  }

  return { accepts, deliverBatch, previewBatch };
}
