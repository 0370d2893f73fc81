import type { ApiUsage } from "@handoff-sync/schema";
import { z } from "zod";
import { headerValue, type HeaderBag } from "../http/headers.js";

/** One entry of `errors[]`: a top-level error's details, or one failed input of a batch. */
export const HubSpotErrorEntrySchema = z.looseObject({
  status: z.string().optional(),
  category: z.string().optional(),
  code: z.string().optional(),
  message: z.string().optional(),
  context: z.record(z.string(), z.unknown()).optional(),
});
export type HubSpotErrorEntry = z.infer<typeof HubSpotErrorEntrySchema>;

/** Error bodies: `{status:"error", message, correlationId, category, errors}`, and 429's `errorType`/`policyName`. */
export const HubSpotErrorBodySchema = z.looseObject({
  status: z.string().optional(),
  message: z.string().optional(),
  correlationId: z.string().optional(),
  category: z.string().optional(),
  errorType: z.string().optional(),
  policyName: z.string().optional(),
  errors: z.array(HubSpotErrorEntrySchema).optional(),
});
export type HubSpotErrorBody = z.infer<typeof HubSpotErrorBodySchema>;

export const HubSpotObjectSchema = z.looseObject({
  id: z.string(),
  properties: z.record(z.string(), z.string().nullable()).optional(),
  new: z.boolean().optional(),
});

/** 200 and 207 answers of batch endpoints. */
export const HubSpotBatchResponseSchema = z.looseObject({
  status: z.string().optional(),
  results: z.array(HubSpotObjectSchema).default([]),
  numErrors: z.number().optional(),
  errors: z.array(HubSpotErrorEntrySchema).default([]),
});
export type HubSpotBatchResponse = z.infer<typeof HubSpotBatchResponseSchema>;

export const HubSpotTokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.number().positive(),
});

export function parseErrorBody(body: unknown): HubSpotErrorBody {
  const parsed = HubSpotErrorBodySchema.safeParse(body);
  return parsed.success ? parsed.data : {};
}

export function parseBatchResponse(body: unknown): HubSpotBatchResponse | undefined {
  const parsed = HubSpotBatchResponseSchema.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The result for our input: by its id value, or the only one when our input was sent alone. In a
 * batch (`alone` false) only the id counts: the only result may be another input's.
 */
export function resultFor(
  response: HubSpotBatchResponse,
  idProperty: string,
  id: string,
  alone = true,
): z.infer<typeof HubSpotObjectSchema> | undefined {
  return (
    response.results.find((result) => result.properties?.[idProperty] === id) ??
    (alone && response.results.length === 1 ? response.results[0] : undefined)
  );
}

/** The failure for our input: the entry whose context names its id, else the only one when sent alone. */
export function errorFor(
  response: HubSpotBatchResponse,
  id: string,
  alone = true,
): HubSpotErrorEntry | undefined {
  const named = response.errors.find((entry) => {
    const ids = entry.context?.["ids"];
    return Array.isArray(ids) && ids.includes(id);
  });
  return named ?? (alone && response.errors.length === 1 ? response.errors[0] : undefined);
}

/**
 * `X-HubSpot-RateLimit-Max`/`-Remaining` (the rolling ten seconds) and `-Daily`/`-Daily-Remaining`,
 * which HubSpot sends on every answer, a 429 included.
 */
export function parseHubSpotUsage(headers: HeaderBag): ApiUsage | undefined {
  const number = (name: string): number | undefined => {
    const value = Number(headerValue(headers, name) ?? Number.NaN);
    return Number.isFinite(value) && value >= 0 ? value : undefined;
  };
  const windowMax = number("x-hubspot-ratelimit-max");
  const windowRemaining = number("x-hubspot-ratelimit-remaining");
  const dailyMax = number("x-hubspot-ratelimit-daily");
  const dailyRemaining = number("x-hubspot-ratelimit-daily-remaining");
  const usage: ApiUsage = {
    ...(windowMax !== undefined && windowRemaining !== undefined
      ? { window: { max: windowMax, remaining: windowRemaining } }
      : {}),
    ...(dailyMax !== undefined && dailyRemaining !== undefined
      ? { daily: { max: dailyMax, used: Math.max(0, dailyMax - dailyRemaining) } }
      : {}),
  };
  return usage.window === undefined && usage.daily === undefined ? undefined : usage;
}
