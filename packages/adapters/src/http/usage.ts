import type { ApiUsage } from "@handoff-sync/schema";
import type { DestinationHttp } from "./destination-http.js";
import type { HeaderBag } from "./headers.js";

/**
 * Reports the quota usage every response of this destination carries (its rate-limit headers) to
 * the destination's request budget, whichever call of the adapter made the request.
 */
export function withUsage(
  http: DestinationHttp,
  parse: (headers: HeaderBag) => ApiUsage | undefined,
  onUsage: ((usage: ApiUsage) => void) | undefined,
): DestinationHttp {
  if (onUsage === undefined) return http;
  return {
    send: async (request) => {
      const response = await http.send(request);
      const usage = parse(response.headers);
      if (usage !== undefined) onUsage(usage);
      return response;
    },
    close: () => http.close(),
  };
}
