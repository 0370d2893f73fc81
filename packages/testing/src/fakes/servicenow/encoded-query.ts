/**
 * The part of ServiceNow's encoded-query language the fake understands: `field=value` terms joined
 * by `^`, and `ORDERBYfield` / `ORDERBYDESCfield`. Like the instance (without
 * glide.invalid_query.returns_no_rows), terms on fields the table lacks are dropped, so such a query
 * matches every record; and `=` on text ignores letter case.
 */
export interface EncodedQuery {
  readonly equals: readonly { readonly field: string; readonly value: string }[];
  readonly orderBy: readonly { readonly field: string; readonly descending: boolean }[];
}

export class UnsupportedQueryError extends Error {
  static {
    this.prototype.name = "UnsupportedQueryError";
  }
}

const FIELD = /^[a-z_][a-z0-9_.]*$/;

export function parseEncodedQuery(query: string, hasField: (field: string) => boolean): EncodedQuery {
  const equals: { field: string; value: string }[] = [];
  const orderBy: { field: string; descending: boolean }[] = [];
  for (const term of query.split("^")) {
    if (term === "") continue;
    if (term.startsWith("ORDERBYDESC") || term.startsWith("ORDERBY")) {
      const descending = term.startsWith("ORDERBYDESC");
      const field = term.slice(descending ? "ORDERBYDESC".length : "ORDERBY".length);
      if (hasField(field)) orderBy.push({ field, descending });
      continue;
    }
    const at = term.indexOf("=");
    const field = at < 0 ? "" : term.slice(0, at);
    if (!FIELD.test(field) || /[<>!]$/.test(field)) {
      throw new UnsupportedQueryError(
        `the fake ServiceNow only understands field=value and ORDERBY terms, not "${term}"`,
      );
    }
    if (hasField(field)) equals.push({ field, value: term.slice(at + 1) });
  }
  return { equals, orderBy };
}

export function matchesQuery(record: Readonly<Record<string, string>>, query: EncodedQuery): boolean {
  return query.equals.every(
    ({ field, value }) => (record[field] ?? "").toLowerCase() === value.toLowerCase(),
  );
}

/** Stable: records that tie keep their insertion order. */
export function orderRecords<T extends Readonly<Record<string, string>>>(
  records: readonly T[],
  query: EncodedQuery,
): T[] {
  return [...records].sort((a, b) => {
    for (const { field, descending } of query.orderBy) {
      const left = a[field] ?? "";
      const right = b[field] ?? "";
      if (left !== right) return (left < right ? -1 : 1) * (descending ? -1 : 1);
    }
    return 0;
  });
}
