import type { BatchItemOutcome } from "@handoff-sync/schema";
import { RetryableDeliveryError } from "@handoff-sync/schema";
import {
  batchSendGuard,
  batchSignal,
  claimBatch,
  outcomesOf,
  RESENDS_AFTER_REFUSAL,
  stoppedByOthers,
} from "../batch/claims.js";
import type { AdapterBatching, DeliveryRequest, DeliveryResult, PreviewRequest } from "../contract.js";
import type { DestinationHttp } from "../http/destination-http.js";
import { withSendGuard } from "../http/send-guard.js";
import type { HubSpotConfig } from "./adapter.js";
import type { HubSpotAuth } from "./auth.js";
import { classifyHubSpotResponse } from "./classify.js";
import { hubSpotProperties } from "./mapping.js";
import { parseBatchResponse, resultFor } from "./response.js";

export interface HubSpotBatchingDeps {
  readonly config: HubSpotConfig;
  readonly http: DestinationHttp;
  readonly auth: HubSpotAuth;
  readonly baseUrl: string;
  readonly now: () => number;
  /** The contact association of one delivery, after its record was written (a call of its own). */
  readonly associate: (request: DeliveryRequest, recordId: string) => Promise<void>;
  readonly previewOne: (request: DeliveryRequest) => PreviewRequest[];
}

interface Input {
  readonly idProperty: string;
  readonly id: string;
  readonly properties: Record<string, string | null>;
}

/**
 * Many deliveries in one `batch/upsert` (at most 100 inputs). Each input is upserted by the unique
 * id property, so a batch that failed ambiguously (a timeout after HubSpot wrote) is simply sent
 * again by each delivery's retry: the upsert finds the records it wrote and cannot create second
 * ones. A 207 names each failed input; those fail alone, classified as a single upsert's would be.
 */
export function createHubSpotBatching(deps: HubSpotBatchingDeps): AdapterBatching {
  const { config, http, auth, baseUrl, now } = deps;
  const url = `${baseUrl}/crm/v3/objects/${encodeURIComponent(config.object)}/batch/upsert`;

  const inputOf = (request: DeliveryRequest): Input => ({
    idProperty: config.id_property,
    id: request.snapshot.key,
    properties: hubSpotProperties(request.snapshot, request.destination, config),
  });

  /** One request for the claimed deliveries; the outcome of each, or the error of them all. */
  async function upsert(
    requests: readonly DeliveryRequest[],
    inputs: readonly Input[],
  ): Promise<Map<number, BatchItemOutcome<DeliveryResult>>> {
    const answered = new Map<number, BatchItemOutcome<DeliveryResult>>();
    const failAll = (indexes: readonly number[], error: unknown): void => {
      for (const index of indexes) answered.set(index, { ok: false, error });
    };
    let candidates = requests.map((_, index) => index);
    let renewed = false;
    let resends = 0;
    for (;;) {
      let authorization: string;
      try {
        authorization = await auth.authorization(
          batchSignal(candidates.map((i) => requests[i] as DeliveryRequest)),
        );
      } catch (error) {
        failAll(candidates, error);
        return answered;
      }
      const { claimed, refused } = await claimBatch(requests, candidates);
      for (const [index, error] of refused) answered.set(index, { ok: false, error });
      if (claimed.length === 0) return answered;
      const sent = claimed.map((index) => requests[index] as DeliveryRequest);
      const signal = batchSignal(sent);
      const guard = batchSendGuard(requests, claimed);
      let response;
      try {
        response = await withSendGuard(guard.guard, () =>
          http.send({
            method: "POST",
            url,
            headers: { authorization, "content-type": "application/json", accept: "application/json" },
            body: JSON.stringify({ inputs: claimed.map((index) => inputs[index]) }),
            ...(signal === undefined ? {} : { signal }),
          }),
        );
      } catch (error) {
        const stopped = guard.stopped();
        if (stopped !== undefined) {
          // Stopped unsent: each refusal is its own delivery's; the others go again, checked afresh.
          for (const [index, refusal] of stopped.refused) answered.set(index, { ok: false, error: refusal });
          if (stopped.others.length > 0 && resends < RESENDS_AFTER_REFUSAL) {
            resends++;
            candidates = [...stopped.others];
            continue;
          }
          failAll(stopped.others, stoppedByOthers());
          return answered;
        }
        // Unanswered (a timeout, a reset): whether HubSpot wrote is unknown for every input.
        failAll(claimed, error);
        return answered;
      }
      const body = response.json();
      const ok = response.status >= 200 && response.status < 300;
      const view = {
        status: response.status,
        headers: response.headers,
        body,
        ...(ok && response.status !== 207 ? {} : { responseExcerpt: response.excerpt() }),
      };
      if (!ok) {
        const outcome = classifyHubSpotResponse(view, {
          operation: "upsert",
          nowMs: now(),
          canRenewToken: auth.renewable && !renewed,
        });
        if (outcome === "renew_token") {
          renewed = true;
          try {
            await auth.renew(authorization, signal);
          } catch (error) {
            failAll(claimed, error);
            return answered;
          }
          candidates = claimed;
          continue;
        }
        failAll(
          claimed,
          typeof outcome === "string"
            ? new RetryableDeliveryError(`HubSpot answered ${response.status} (${outcome})`, {
                status: response.status,
              })
            : outcome,
        );
        return answered;
      }
      // Read once: each input is classified against the same answer.
      const batch = parseBatchResponse(body);
      const answer = batch === undefined ? view : { ...view, batch };
      const alone = claimed.length === 1;
      for (const index of claimed) {
        const input = inputs[index] as Input;
        const outcome = classifyHubSpotResponse(answer, {
          operation: "upsert",
          nowMs: now(),
          canRenewToken: false,
          input: { idProperty: input.idProperty, id: input.id, alone },
        });
        const result = batch === undefined ? undefined : resultFor(batch, input.idProperty, input.id, alone);
        if (outcome === "ok" && result !== undefined)
          answered.set(index, { ok: true, value: { recordId: result.id, status: response.status } });
        else
          answered.set(index, {
            ok: false,
            error:
              typeof outcome === "string"
                ? new RetryableDeliveryError(`HubSpot answered ${response.status} without the record`, {
                    status: response.status,
                  })
                : outcome,
          });
      }
      return answered;
    }
  }

  async function deliverBatch(
    requests: readonly DeliveryRequest[],
  ): Promise<BatchItemOutcome<DeliveryResult>[]> {
    // A mapping that throws fails its own delivery, not the batch.
    const mapped = new Map<number, unknown>();
    const inputs = new Map<number, Input>();
    requests.forEach((request, index) => {
      try {
        inputs.set(index, inputOf(request));
      } catch (error) {
        mapped.set(index, error);
      }
    });
    const positions = [...inputs.keys()];
    const answered = await upsert(
      positions.map((index) => requests[index] as DeliveryRequest),
      positions.map((index) => inputs.get(index) as Input),
    );
    // Back from positions among the mapped deliveries to positions in the batch.
    const byIndex = new Map<number, BatchItemOutcome<DeliveryResult>>();
    for (const [position, outcome] of answered) byIndex.set(positions[position] ?? -1, outcome);

    // The association is a call per delivery (HubSpot's v4 PUT), under that delivery's own fence.
    await Promise.all(
      [...byIndex].map(async ([index, outcome]) => {
        const request = requests[index];
        if (!outcome.ok || request === undefined || outcome.value.recordId === undefined) return;
        const recordId = outcome.value.recordId;
        try {
          await withSendGuard(request.sendGuard, () => deps.associate(request, recordId));
        } catch (error) {
          byIndex.set(index, { ok: false, error });
        }
      }),
    );
    return outcomesOf(requests.length, mapped, byIndex);
  }

  function previewBatch(requests: readonly DeliveryRequest[]): PreviewRequest[] {
    // Batched deliveries always upsert: previewed without the ledger's record id, as they are sent.
    const fresh = requests.map(({ previous: _previous, ...request }) => request);
    const [first] = fresh;
    if (first === undefined) return [];
    const single = deps.previewOne(first)[0];
    return [
      {
        method: "POST",
        url,
        headers: single?.headers ?? {},
        body: JSON.stringify({ inputs: fresh.map(inputOf) }),
        note: `one batch upsert by ${config.id_property} for ${fresh.length} deliveries`,
      },
      ...fresh.flatMap((request) => deps.previewOne(request).slice(1)),
    ];
  }

  return {
    // An update by the ledger's record id (on_missing_record: park) notices a deleted record; an
    // upsert would silently recreate it, so those deliveries go alone.
    accepts: (request) => !(config.on_missing_record === "park" && request.previous?.recordId !== undefined),
    deliverBatch,
    previewBatch,
  };
}
