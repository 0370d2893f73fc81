import type { Destination, DestinationType, Resolved } from "@handoff-sync/config";
import type { ApiUsage } from "@handoff-sync/schema";
import type { Adapter } from "./contract.js";
import { withTraceparent, type ProxySettings } from "./http/destination-http.js";
import { withSendGuard } from "./http/send-guard.js";
import { createWebhookAdapter } from "./webhook/adapter.js";
import { createSalesforceAdapter } from "./salesforce/adapter.js";
import { createHubSpotAdapter } from "./hubspot/adapter.js";
import { createZendeskAdapter } from "./zendesk/adapter.js";
import { createServiceNowAdapter } from "./servicenow/adapter.js";

export type ResolvedDestination = Resolved<Destination>;
type DestinationOf<T extends DestinationType> = Extract<ResolvedDestination, { type: T }>;

/** What the running service knows that the destinations file does not: the proxy environment. */
export interface AdapterRuntime {
  readonly proxy?: ProxySettings;
  /** Told the quota usage a CRM reports in its answers, where it reports any (HubSpot, Salesforce). */
  readonly onUsage?: (usage: ApiUsage) => void;
}

type AdapterFactory<T extends DestinationType> = (
  name: string,
  config: DestinationOf<T>,
  runtime: AdapterRuntime,
) => Adapter;

/** Adding a destination type to the config schema fails typechecking here until it has a factory. */
const factories = {
  webhook: createWebhookAdapter,
  salesforce: createSalesforceAdapter,
  hubspot: createHubSpotAdapter,
  zendesk: createZendeskAdapter,
  servicenow: createServiceNowAdapter,
} satisfies { [T in DestinationType]: AdapterFactory<T> };

function factoryFor<T extends DestinationType>(type: T): AdapterFactory<T> {
  // Indexing through the mapped type lets TypeScript relate T to its factory once there are several.
  const byType: { [K in DestinationType]: AdapterFactory<K> } = factories;
  return byType[type];
}

export function createAdapter(
  destinationName: string,
  destinationConfig: ResolvedDestination,
  runtime: AdapterRuntime = {},
): Adapter {
  const adapter = factoryFor(destinationConfig.type)(destinationName, destinationConfig, runtime);
  // Every request of the delivery carries its trace context, whichever adapter sends it.
  const batch = adapter.batch;
  return {
    ...adapter,
    deliver: (request) =>
      withTraceparent(request.traceparent, () =>
        withSendGuard(request.sendGuard, () => adapter.deliver(request)),
      ),
    // A batch request joins the first delivery's trace; each delivery's send guard is combined by
    // the adapter over the deliveries it actually sends (batch/claims.ts).
    ...(batch === undefined
      ? {}
      : {
          batch: {
            ...batch,
            deliverBatch: (requests) =>
              withTraceparent(requests[0]?.traceparent, () => batch.deliverBatch(requests)),
          },
        }),
  };
}
