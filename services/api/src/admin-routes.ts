import type { ApiInstance } from "./api-instance.js";
import type { Admin, Selection } from "@handoff-sync/admin";
import type { DeadLetterFilter } from "@handoff-sync/queue";
import { DeadLetterReasonSchema } from "@handoff-sync/schema";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { parseOr400 } from "./parse.js";

const instant = z.iso.datetime({ offset: true });
const offset = z.coerce.number().int().min(0).default(0);
const limit = z.coerce.number().int().min(1).max(1000).default(100);

const DeadLetterFilterSchema = z.strictObject({
  reason: DeadLetterReasonSchema.optional(),
  since: instant.optional(),
  until: instant.optional(),
  key: z.string().min(1).optional(),
});
const DeadLetterQuerySchema = DeadLetterFilterSchema.extend({ offset, limit });

/** One entry by id, a filter, or everything (`all: true`): exactly one of them. */
const SelectionBodySchema = z
  .strictObject({
    ids: z.array(z.string().min(1)).min(1).max(10_000).optional(),
    filter: DeadLetterFilterSchema.optional(),
    all: z.literal(true).optional(),
    dry_run: z.boolean().default(false),
  })
  .refine(
    (b) => [b.ids, b.filter, b.all].filter((x) => x !== undefined).length === 1,
    "give exactly one of ids, filter or all",
  );

const DestinationParamsSchema = z.object({ destination: z.string().min(1) });
const DeadLetterParamsSchema = DestinationParamsSchema.extend({ id: z.string().min(1) });
const PauseBodySchema = z.strictObject({
  reason: z.string().min(1).max(500).default("paused by an operator"),
});
const BackfillBodySchema = z.strictObject({
  from: instant,
  to: instant,
  dry_run: z.boolean().default(false),
});
const RejectedQuerySchema = z.object({
  partition: z.coerce.number().int().min(0).optional(),
  offset: z.string().regex(/^\d+$/).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  reason: z.string().min(1).optional(),
});
const ResendBodySchema = z.strictObject({
  records: z
    .array(z.strictObject({ partition: z.int().min(0), offset: z.string().regex(/^\d+$/) }))
    .min(1)
    .max(1000),
  dry_run: z.boolean().default(false),
});
const ErasureBodySchema = z
  .strictObject({
    shared_id: z.string().min(1).optional(),
    id: z.string().min(1).optional(),
    customer_id: z.string().min(1).optional(),
    dry_run: z.boolean().default(false),
  })
  .refine(
    (b) => [b.shared_id, b.id, b.customer_id].filter((x) => x !== undefined).length === 1,
    "give exactly one of shared_id, id or customer_id",
  );
const AuditQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  before: z
    .string()
    .regex(/^\d+-\d+$/)
    .optional(),
});

function filterOf(filter: z.infer<typeof DeadLetterFilterSchema>): DeadLetterFilter {
  return {
    ...(filter.reason !== undefined ? { reason: filter.reason } : {}),
    ...(filter.since !== undefined ? { since: filter.since } : {}),
    ...(filter.until !== undefined ? { until: filter.until } : {}),
    ...(filter.key !== undefined ? { key: filter.key } : {}),
  };
}

function selectionOf(body: z.infer<typeof SelectionBodySchema>): Selection {
  if (body.ids !== undefined) return { ids: body.ids };
  return { filter: filterOf(body.filter ?? {}) };
}

/** The key name that acted, for the audit trail; routes behind auth always have one. */
function actor(request: FastifyRequest): string {
  return request.principal?.name ?? "unknown";
}

/** Thin HTTP wrappers over @handoff-sync/admin, which the CLI uses too. */
export function registerAdminRoutes(app: ApiInstance, deps: { admin: Admin }): void {
  const { admin } = deps;
  const base = "/admin/v1";

  app.get(`${base}/destinations`, { config: { scope: "read" } }, async () => ({
    destinations: await admin.overview(),
  }));

  app.get(`${base}/consumer-lag`, { config: { scope: "read" } }, async () => admin.consumerLag());

  app.get(
    `${base}/destinations/:destination/dead-letters`,
    { config: { scope: "read" } },
    async (request, reply) => {
      const params = parseOr400(DestinationParamsSchema, request.params, reply);
      const query = params && parseOr400(DeadLetterQuerySchema, request.query, reply, "Invalid query");
      if (!params || !query) return reply;
      const { offset: from, limit: count, ...filter } = query;
      const page = await admin.listDeadLetters(params.destination, filterOf(filter), {
        offset: from,
        limit: count,
      });
      return {
        destination: params.destination,
        total: page.total,
        offset: from,
        limit: count,
        entries: page.entries,
      };
    },
  );

  app.get(
    `${base}/destinations/:destination/dead-letters/:id`,
    { config: { scope: "read" } },
    async (request, reply) => {
      const params = parseOr400(DeadLetterParamsSchema, request.params, reply);
      if (!params) return reply;
      return admin.getDeadLetter(params.destination, params.id);
    },
  );

  app.post(
    `${base}/destinations/:destination/dead-letters/replay`,
    { config: { scope: "operate" } },
    async (request, reply) => {
      const params = parseOr400(DestinationParamsSchema, request.params, reply);
      const body = params && parseOr400(SelectionBodySchema, request.body ?? {}, reply);
      if (!params || !body) return reply;
      const items = await admin.replay(actor(request), params.destination, selectionOf(body), body.dry_run);
      return { destination: params.destination, dry_run: body.dry_run, items };
    },
  );

  app.post(
    `${base}/destinations/:destination/dead-letters/discard`,
    { config: { scope: "operate" } },
    async (request, reply) => {
      const params = parseOr400(DestinationParamsSchema, request.params, reply);
      const body = params && parseOr400(SelectionBodySchema, request.body ?? {}, reply);
      if (!params || !body) return reply;
      const ids = await admin.discard(actor(request), params.destination, selectionOf(body), body.dry_run);
      return { destination: params.destination, dry_run: body.dry_run, discarded: ids };
    },
  );

  app.delete(
    `${base}/destinations/:destination/dead-letters/:id`,
    { config: { scope: "operate" } },
    async (request, reply) => {
      const params = parseOr400(DeadLetterParamsSchema, request.params, reply);
      if (!params) return reply;
      await admin.getDeadLetter(params.destination, params.id);
      await admin.discard(actor(request), params.destination, { ids: [params.id] }, false);
      return reply.code(204).send();
    },
  );

  app.post(
    `${base}/destinations/:destination/pause`,
    { config: { scope: "operate" } },
    async (request, reply) => {
      const params = parseOr400(DestinationParamsSchema, request.params, reply);
      const body = params && parseOr400(PauseBodySchema, request.body ?? {}, reply);
      if (!params || !body) return reply;
      return {
        destination: params.destination,
        parked: await admin.pause(actor(request), params.destination, body.reason),
      };
    },
  );

  app.post(
    `${base}/destinations/:destination/resume`,
    { config: { scope: "operate" } },
    async (request, reply) => {
      const params = parseOr400(DestinationParamsSchema, request.params, reply);
      if (!params) return reply;
      await admin.resume(actor(request), params.destination);
      return { destination: params.destination, parked: null };
    },
  );

  app.post(
    `${base}/destinations/:destination/backfill`,
    { config: { scope: "operate" } },
    async (request, reply) => {
      const params = parseOr400(DestinationParamsSchema, request.params, reply);
      const body = params && parseOr400(BackfillBodySchema, request.body ?? {}, reply);
      if (!params || !body) return reply;
      return admin.backfill(
        actor(request),
        params.destination,
        { from: body.from, to: body.to },
        body.dry_run,
      );
    },
  );

  app.get(`${base}/rejected`, { config: { scope: "read" } }, async (request, reply) => {
    const query = parseOr400(RejectedQuerySchema, request.query, reply, "Invalid query");
    if (!query) return reply;
    return admin.listRejected({
      limit: query.limit,
      ...(query.partition !== undefined ? { partition: query.partition } : {}),
      ...(query.offset !== undefined ? { offset: query.offset } : {}),
      ...(query.reason !== undefined ? { reason: query.reason } : {}),
    });
  });

  app.post(`${base}/rejected/resend`, { config: { scope: "operate" } }, async (request, reply) => {
    const body = parseOr400(ResendBodySchema, request.body ?? {}, reply);
    if (!body) return reply;
    return {
      dry_run: body.dry_run,
      items: await admin.resendRejected(actor(request), body.records, body.dry_run),
    };
  });

  app.post(`${base}/erasure`, { config: { scope: "admin" } }, async (request, reply) => {
    const body = parseOr400(ErasureBodySchema, request.body ?? {}, reply);
    if (!body) return reply;
    const subject =
      body.shared_id !== undefined
        ? ({ kind: "shared_id", value: body.shared_id } as const)
        : body.id !== undefined
          ? ({ kind: "id", value: body.id } as const)
          : ({ kind: "customer_id", value: body.customer_id ?? "" } as const);
    return admin.erase(actor(request), subject, body.dry_run);
  });

  app.get(`${base}/audit`, { config: { scope: "admin" } }, async (request, reply) => {
    const query = parseOr400(AuditQuerySchema, request.query, reply, "Invalid query");
    if (!query) return reply;
    return admin.auditLog({
      limit: query.limit,
      ...(query.before !== undefined ? { before: query.before } : {}),
    });
  });
}
