import type { LifecycleStage } from "@handoff-sync/schema";
import type { Route, RouteMatch } from "./destinations-schema.js";

/** What routing looks at; a handoff event or snapshot can be passed as it is. */
export interface RoutableEvent {
  readonly state: string;
  readonly stage: LifecycleStage;
  readonly channel?: string | undefined;
  /** The event's own `destination` label (where the platform handed off to), matched by `match.destinations`. */
  readonly destination?: string | undefined;
  readonly reason?: string | undefined;
}

export interface RoutingConfig {
  readonly destinations: Readonly<Record<string, unknown>>;
  readonly routes?: readonly Route[] | undefined;
}

// A route limited to some labels never matches an event that carries none.
function labelMatches(allowed: readonly string[] | undefined, value: string | undefined): boolean {
  return allowed === undefined || (value !== undefined && allowed.includes(value));
}

function matches(match: RouteMatch | undefined, event: RoutableEvent): boolean {
  if (match === undefined) return true;
  if (match.states !== undefined && !match.states.includes(event.state)) return false;
  if (match.stages !== undefined && !match.stages.includes(event.stage)) return false;
  return (
    labelMatches(match.channels, event.channel) &&
    labelMatches(match.destinations, event.destination) &&
    labelMatches(match.reasons, event.reason)
  );
}

/**
 * Destination names for an event, deduplicated, in the order the destinations are declared, so
 * enqueue order and job ids do not depend on which route matched first. A matching route adds its
 * `destinations`, and its `on_failed` fallbacks too when the event's stage is `failed`.
 */
export function routeEvent(config: RoutingConfig, event: RoutableEvent): string[] {
  const declared = Object.keys(config.destinations);
  if (config.routes === undefined) return declared;
  const chosen = new Set<string>();
  for (const route of config.routes) {
    if (!matches(route.match, event)) continue;
    for (const name of route.destinations) chosen.add(name);
    if (event.stage === "failed") for (const name of route.on_failed ?? []) chosen.add(name);
  }
  return declared.filter((name) => chosen.has(name));
}
