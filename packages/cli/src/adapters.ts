import {
  createAdapter,
  createWebhookAdapter,
  type Adapter,
  type ResolvedDestination,
} from "@handoff-sync/adapters";

/**
 * Adapters for the CLI, on the CLI's clock: a preview's timestamps (webhook-timestamp, ...) come from
 * the same injected clock as the rest of the output, so previews are reproducible in tests.
 */
export function cliAdapterFactory(
  now: () => number,
): (name: string, destination: ResolvedDestination) => Adapter {
  return (name, destination) =>
    destination.type === "webhook"
      ? createWebhookAdapter(name, destination, { nowMs: now })
      : createAdapter(name, destination);
}
