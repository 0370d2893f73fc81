import { z } from "zod";
import { didYouMean } from "./did-you-mean.js";

type Path = readonly (string | number)[];
type AnySchema = z.core.$ZodType;

export interface IssueProblem {
  readonly path: Path;
  readonly message: string;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function valueAt(input: unknown, path: Path): unknown {
  let value = input;
  for (const part of path)
    value = isRecord(value) || Array.isArray(value) ? (value as Record<string, unknown>)[part] : undefined;
  return value;
}

/** Wrappers that do not change which keys an object accepts. */
function unwrap(schema: AnySchema): AnySchema {
  for (let current = schema; ;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodReadonly ||
      current instanceof z.ZodCatch ||
      current instanceof z.ZodLazy
    ) {
      current = current.unwrap();
    } else if (current instanceof z.ZodPipe) {
      // A preprocess (transform first) validates with what follows it; a transform after a schema
      // validates with the schema before it.
      current = current.in instanceof z.ZodTransform ? current.out : current.in;
    } else {
      return current;
    }
  }
}

/** The options a union would try for this input: one by discriminator when it has one, else all. */
function candidates(schema: z.ZodUnion, input: unknown): readonly AnySchema[] {
  if (!(schema instanceof z.ZodDiscriminatedUnion)) return schema.options;
  const discriminator = schema.def.discriminator;
  const value = isRecord(input) ? input[discriminator] : undefined;
  return schema.options.filter((option) => {
    const inner = unwrap(option);
    if (!(inner instanceof z.ZodObject)) return false;
    const literal: unknown = inner.shape[discriminator];
    return literal instanceof z.ZodLiteral && [...literal.values].some((allowed) => allowed === value);
  });
}

/**
 * The keys a strict object accepts at `path` of the input, following the input through records,
 * arrays and unions (a discriminated union by the input's discriminator, e.g. a destination's `type`).
 */
export function allowedKeysAt(schema: AnySchema, path: Path, input: unknown): string[] | undefined {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodUnion) {
    const keys = new Set<string>();
    for (const option of candidates(inner, input)) {
      for (const key of allowedKeysAt(option, path, input) ?? []) keys.add(key);
    }
    return keys.size === 0 ? undefined : [...keys];
  }
  const [head, ...rest] = path;
  if (head === undefined) return inner instanceof z.ZodObject ? Object.keys(inner.shape) : undefined;
  const child = valueAt(input, [head]);
  if (inner instanceof z.ZodObject) {
    const field: unknown = typeof head === "string" ? inner.shape[head] : undefined;
    return field instanceof z.ZodType ? allowedKeysAt(field, rest, child) : undefined;
  }
  if (inner instanceof z.ZodRecord) return allowedKeysAt(inner.valueType, rest, child);
  if (inner instanceof z.ZodArray) return allowedKeysAt(inner.element, rest, child);
  return undefined;
}

/**
 * Zod issues as problems a person can act on: one per unknown key, at the key itself, with the
 * nearest valid name; an unknown discriminator (`type: webhok`) with the nearest valid value.
 */
export function describeIssues(
  schema: AnySchema,
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
): IssueProblem[] {
  return issues.flatMap((issue): IssueProblem[] => {
    const path = issue.path.filter((part) => typeof part !== "symbol");
    if (issue.code === "unrecognized_keys") {
      const allowed = allowedKeysAt(schema, path, input) ?? [];
      return issue.keys.map((key) => {
        const hint = didYouMean(key, allowed);
        const expected = hint === "" && allowed.length > 0 ? `; expected one of: ${allowed.join(", ")}` : "";
        return { path: [...path, key], message: `unknown key${hint}${expected}` };
      });
    }
    // Zod says "expected string, received undefined"; people say the key is missing.
    if (issue.code === "invalid_type" && path.length > 0 && valueAt(input, path) === undefined) {
      return [{ path, message: `required (${issue.expected})` }];
    }
    if (
      issue.code === "invalid_union" &&
      issue.discriminator !== undefined &&
      "options" in issue &&
      issue.options !== undefined
    ) {
      const options = issue.options.filter((option) => typeof option === "string");
      const given = valueAt(input, path);
      if (given === undefined) return [{ path, message: `required; one of: ${options.join(", ")}` }];
      const shown = typeof given === "string" ? `"${given}"` : JSON.stringify(given);
      return [
        {
          path,
          message: `unknown ${issue.discriminator} ${shown}${typeof given === "string" ? didYouMean(given, options) : ""}; expected one of: ${options.join(", ")}`,
        },
      ];
    }
    return [{ path, message: issue.message }];
  });
}
