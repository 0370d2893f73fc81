import { randomUUID } from "node:crypto";
import type { FakeResponse } from "../fake-server.js";

/** HubSpot's standard error body: `{status:"error", message, correlationId, category, ...}`. */
export function hubSpotError(
  status: number,
  category: string,
  message: string,
  extra: Readonly<Record<string, unknown>> = {},
  headers: Readonly<Record<string, string>> = {},
): FakeResponse {
  return {
    status,
    headers,
    body: { status: "error", message, correlationId: randomUUID(), category, ...extra },
  };
}

/** One entry of a "Property values were not valid" list, as HubSpot embeds it in messages. */
export interface PropertyProblem {
  readonly isValid: false;
  readonly message: string;
  readonly error: string;
  readonly name: string;
}

export function propertyProblem(name: string, error: string, message: string): PropertyProblem {
  return { isValid: false, message, error, name };
}

/** HubSpot puts the list of property problems into the message as JSON text. */
export function propertyValuesMessage(problems: readonly PropertyProblem[]): string {
  return `Property values were not valid: ${JSON.stringify(problems)}`;
}
