import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "./openapi.js";

describe("OpenAPI document", () => {
  it("is what docs/openapi.json holds (run `pnpm build && pnpm openapi` after changing the API)", async () => {
    const committed: unknown = JSON.parse(
      await readFile(new URL("../../../docs/openapi.json", import.meta.url), "utf8"),
    );
    expect(committed).toEqual(openApiDocument());
  });

  it("describes every route the API serves, each behind a scope unless it is a health endpoint", () => {
    const doc = openApiDocument() as {
      paths: Record<string, Record<string, { security?: unknown[]; "x-required-scope"?: string }>>;
    };
    const open = new Set(["/healthz", "/readyz", "/metrics"]);
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const operation of Object.values(operations)) {
        if (open.has(path)) expect(operation.security).toEqual([]);
        else
          expect(["read", "operate", "admin", path.startsWith("/v1/ingest/") ? "ingest" : "read"]).toContain(
            operation["x-required-scope"],
          );
        // Only ingestion routes take the ingest scope, and they take nothing else.
        if (path.startsWith("/v1/ingest/")) expect(operation["x-required-scope"]).toBe("ingest");
      }
    }
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/{account_id}/{project_id}/handoff_state",
        "/v1/handoffs",
        "/admin/v1/erasure",
        "/admin/v1/audit",
        "/v1/ingest/events",
        "/v1/ingest/chat/respond",
        "/v1/ingest/chat/close",
        "/v1/ingest/sip",
      ]),
    );
  });
});
