import type { ApiInstance } from "./api-instance.js";
import type { Admin, HandoffLookup } from "@handoff-sync/admin";

import { z } from "zod";
import { parseOr400 } from "./parse.js";
import { sendProblem } from "./problem.js";

const IdentifierQuerySchema = z.object({
  shared_id: z.string().min(1).max(200).optional(),
  id: z.string().min(1).max(200).optional(),
});

const AccountParamsSchema = z.object({
  account_id: z.string().min(1).max(200),
  project_id: z.string().min(1).max(200),
});

/** shared_id wins when both are given, and an unknown shared_id never falls back to id. */
function lookupOf(query: z.infer<typeof IdentifierQuerySchema>): HandoffLookup | undefined {
  if (query.shared_id !== undefined) return { kind: "shared_id", value: query.shared_id };
  if (query.id !== undefined) return { kind: "id", value: query.id };
  return undefined;
}

export function registerHandoffRoutes(
  app: ApiInstance,
  deps: { admin: Admin; account?: { accountId: string; projectId: string } },
): void {
  const { admin } = deps;

  // Compatible with the platform's Handoff API, so integrations written against it can point here.
  app.get(
    "/v1/:account_id/:project_id/handoff_state",
    { config: { scope: "read" } },
    async (request, reply) => {
      const params = parseOr400(AccountParamsSchema, request.params, reply);
      if (!params) return reply;
      if (
        !deps.account ||
        params.account_id !== deps.account.accountId ||
        params.project_id !== deps.account.projectId
      ) {
        return sendProblem(
          reply,
          404,
          "Not found",
          "this deployment does not serve that account and project",
        );
      }
      const query = parseOr400(IdentifierQuerySchema, request.query, reply, "Invalid query");
      if (!query) return reply;
      const lookup = lookupOf(query);
      if (!lookup) return sendProblem(reply, 400, "Missing identifier", "give shared_id or id");
      const found = await admin.findHandoff(lookup);
      if (!found)
        return sendProblem(reply, 404, "Handoff not found", `no handoff with ${lookup.kind} ${lookup.value}`);
      // Exactly the seed's shape: `shared_id` is left out when the handoff has none, never null.
      return {
        id: found.snapshot.id,
        ...(found.snapshot.shared_id !== undefined ? { shared_id: found.snapshot.shared_id } : {}),
        data: found.snapshot.data,
      };
    },
  );

  app.get("/v1/handoffs", { config: { scope: "read" } }, async (request, reply) => {
    const query = parseOr400(IdentifierQuerySchema, request.query, reply, "Invalid query");
    if (!query) return reply;
    const lookup = lookupOf(query);
    if (!lookup) return sendProblem(reply, 400, "Missing identifier", "give shared_id or id");
    const found = await admin.findHandoff(lookup);
    if (!found)
      return sendProblem(reply, 404, "Handoff not found", `no handoff with ${lookup.kind} ${lookup.value}`);
    const { snapshot, deliveries } = found;
    return {
      id: snapshot.id,
      shared_id: snapshot.shared_id ?? null,
      key: snapshot.key,
      state: snapshot.state,
      stage: snapshot.stage,
      version: snapshot.version,
      occurred_at: snapshot.occurred_at,
      created_at: snapshot.created_at,
      updated_at: snapshot.updated_at,
      data: snapshot.data,
      history: snapshot.history.map((entry) => ({
        event_id: entry.event_id,
        state: entry.state,
        occurred_at: entry.occurred_at,
        received_at: entry.received_at,
        ...(entry.anomaly !== undefined ? { anomaly: entry.anomaly } : {}),
      })),
      deliveries,
    };
  });
}
