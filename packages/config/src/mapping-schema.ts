import { z } from "zod";

/**
 * Where a value comes from: a dotted path into the handoff snapshot as adapters see it
 * (`state`, `data.customer_id`, `data.entities.plan`, `key`, `shared_id`, `version`, ...),
 * a literal, or a template with `{{path}}` placeholders.
 */
const PathSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$/, "a dotted path such as data.customer_id");

const source = {
  path: PathSchema.optional(),
  literal: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
  template: z.string().min(1).optional(),
};

/** Transforms, applied in this order: lookup, default, join, date_format, truncate. */
const transforms = {
  lookup: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  default: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
  join: z.string().optional(),
  date_format: z.enum(["iso", "date", "epoch_ms", "epoch_s"]).optional(),
  truncate: z.number().int().min(1).max(1_000_000).optional(),
};

export const MappingRuleSchema = z
  .strictObject({ ...source, ...transforms })
  .refine((rule) => [rule.path, rule.literal, rule.template].filter((s) => s !== undefined).length === 1, {
    message: "give exactly one of path, literal or template",
  });
export type MappingRule = z.infer<typeof MappingRuleSchema>;

/** A bare string is shorthand for `{ path: ... }`. */
export const FieldMappingSchema = z.record(
  z.string().min(1),
  z.union([PathSchema.transform((path): MappingRule => ({ path })), MappingRuleSchema]),
);
export type FieldMapping = z.infer<typeof FieldMappingSchema>;
