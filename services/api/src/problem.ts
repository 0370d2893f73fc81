import type { FastifyReply } from "fastify";

/** Errors as RFC 9457 problem details, so clients get one shape for every failure. */
export function sendProblem(
  reply: FastifyReply,
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  return reply
    .code(status)
    .type("application/problem+json")
    .send({ type: "about:blank", title, status, detail, ...extra });
}
