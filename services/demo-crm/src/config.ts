import { z } from "zod";

const DemoCrmEnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(4000),
  /** Space-separated to accept an old and a new secret while rotating. */
  DEMO_WEBHOOK_SECRET: z.string().transform((value) => value.split(/\s+/).filter((secret) => secret !== "")),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
export type DemoCrmConfig = z.infer<typeof DemoCrmEnvSchema>;

/**
 * Lists every problem at once, naming the variable. Empty strings count as unset, as in every
 * service. (Kept local: the demo does not depend on @handoff-sync/config.)
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): DemoCrmConfig {
  const set = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ""),
  );
  const result = DemoCrmEnvSchema.safeParse(set);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.map(String).join(".");
    return `  - ${name}: ${set[name] === undefined ? "is required but not set" : issue.message}`;
  });
  throw new Error(`invalid demo-crm configuration:\n${lines.join("\n")}`);
}
