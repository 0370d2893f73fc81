import type { FieldMapping, MappingRule } from "@handoff-sync/config";
import type { MappingView } from "./view.js";

type Scalar = string | number | boolean | null;

export function readPath(view: MappingView, path: string): unknown {
  let current: unknown = view;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function text(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** `{{path}}` placeholders; a missing value renders as the empty string. */
export function renderTemplate(template: string, view: MappingView): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (_, path: string) =>
    text(readPath(view, path)),
  );
}

function formatDate(value: unknown, format: NonNullable<MappingRule["date_format"]>): unknown {
  if (typeof value !== "string" && typeof value !== "number") return value;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  switch (format) {
    case "iso":
      return date.toISOString();
    case "date":
      return date.toISOString().slice(0, 10);
    case "epoch_ms":
      return date.getTime();
    case "epoch_s":
      return Math.floor(date.getTime() / 1000);
  }
}

function truncate(value: unknown, length: number): unknown {
  if (typeof value !== "string" || value.length <= length) return value;
  // Cut on code points so a surrogate pair is never split.
  return Array.from(value).slice(0, length).join("");
}

export function evaluateRule(rule: MappingRule, view: MappingView): unknown {
  let value: unknown =
    rule.path !== undefined
      ? readPath(view, rule.path)
      : rule.template !== undefined
        ? renderTemplate(rule.template, view)
        : rule.literal;
  if (rule.lookup !== undefined) {
    const key = text(value);
    value = Object.hasOwn(rule.lookup, key) ? rule.lookup[key] : undefined;
  }
  if ((value === undefined || value === null || value === "") && rule.default !== undefined)
    value = rule.default;
  if (rule.join !== undefined && Array.isArray(value)) value = value.map(text).join(rule.join);
  if (rule.date_format !== undefined) value = formatDate(value, rule.date_format);
  if (rule.truncate !== undefined) value = truncate(value, rule.truncate);
  return value;
}

/**
 * The CRM fields for one handoff. Fields whose value is undefined are left out, so a CRM keeps what
 * it has rather than being blanked by data the handoff never carried. Pure.
 */
export function applyMapping(mapping: FieldMapping, view: MappingView): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [field, rule] of Object.entries(mapping)) {
    const value = evaluateRule(rule, view);
    if (value !== undefined) fields[field] = value;
  }
  return fields;
}

export type { Scalar };
