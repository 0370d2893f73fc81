import type { FastifyReply } from "fastify";
import type { z } from "zod";
import { sendProblem } from "./problem.js";

/** Parses a query or body; on failure answers 400 listing every problem and returns undefined. */
export function parseOr400<T extends z.ZodType>(
  schema: T,
  value: unknown,
  reply: FastifyReply,
  title = "Invalid request",
): z.infer<T> | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  void sendProblem(
    reply,
    400,
    title,
    result.error.issues
      .map((i) => `${i.path.length > 0 ? `${i.path.join(".")}: ` : ""}${i.message}`)
      .join("; "),
  );
  return undefined;
}
