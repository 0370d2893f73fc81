import type { LifecycleStage } from "@handoff-sync/schema";
import type { Route } from "./destinations-schema.js";

export interface RoutableEvent {
  readonly state: string;
  readonly stage: LifecycleStage;
  readonly channel?: string | undefined;
}

export interface RoutingConfig {
  readonly destinations: Readonly<Record<string, unknown>>;
  readonly routes?: readonly Route[] | undefined;
}

function matches(route: Route, event: RoutableEvent): boolean {
  const match = route.match;
  if (match === undefined) return true;
  if (match.states !== undefined && !match.states.includes(event.state)) return false;
  if (match.stages !== undefined && !match.stages.includes(event.stage)) return false;
  // A route limited to channels never matches an event that names none.
  if (
    match.channels !== undefined &&
    (event.channel === undefined || !match.channels.includes(event.channel))
  )
    return false;
  return true;
}

/**
 * Destination names for an event, deduplicated, in the order the destinations are declared, so
 * enqueue order and job ids do not depend on which route matched first.
 */
export function routeEvent(config: RoutingConfig, event: RoutableEvent): string[] {
  const declared = Object.keys(config.destinations);
  if (config.routes === undefined) return declared;
  const chosen = new Set<string>();
  for (const route of config.routes) {
    if (matches(route, event)) for (const name of route.destinations) chosen.add(name);
  }
  return declared.filter((name) => chosen.has(name));
}
