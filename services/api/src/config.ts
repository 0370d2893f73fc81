import { CommonEnvSchema, parseEnv, portSchema, RedisEnvSchema } from "@handoff-sync/config";
import { z } from "zod";

export const ApiEnvSchema = z.object({
  LOG_LEVEL: CommonEnvSchema.shape.LOG_LEVEL,
  ...RedisEnvSchema.shape,
  PORT: portSchema(8080),
  HOST: z.string().default("0.0.0.0"),
});
export type ApiEnv = z.infer<typeof ApiEnvSchema>;

export function loadApiEnv(env: Record<string, string | undefined> = process.env): ApiEnv {
  return parseEnv(ApiEnvSchema, env);
}
