import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jobIdPart, resolveHandoffKey } from "./keys.js";

describe("resolveHandoffKey", () => {
  it("keys a new handoff by shared_id and aliases both ids", () => {
    expect(resolveHandoffKey({ id: "c1", shared_id: "s1" }, {})).toEqual({
      key: "s1",
      setAliases: [
        { kind: "id", value: "c1", key: "s1" },
        { kind: "shared_id", value: "s1", key: "s1" },
      ],
      conflicts: [],
    });
  });

  it("keys a new handoff without shared_id by id", () => {
    expect(resolveHandoffKey({ id: "c1" }, {})).toEqual({
      key: "c1",
      setAliases: [{ kind: "id", value: "c1", key: "c1" }],
      conflicts: [],
    });
  });

  it("keeps the id key when a later event adds a shared_id", () => {
    expect(resolveHandoffKey({ id: "c1", shared_id: "s1" }, { byId: "c1" })).toEqual({
      key: "c1",
      setAliases: [{ kind: "shared_id", value: "s1", key: "c1" }],
      conflicts: [],
    });
  });

  it("joins a second conversation sharing the shared_id", () => {
    expect(resolveHandoffKey({ id: "c2", shared_id: "s1" }, { bySharedId: "c1" })).toEqual({
      key: "c1",
      setAliases: [{ kind: "id", value: "c2", key: "c1" }],
      conflicts: [],
    });
  });

  it("creates nothing when both aliases exist", () => {
    expect(resolveHandoffKey({ id: "c1", shared_id: "s1" }, { bySharedId: "s1", byId: "s1" })).toEqual({
      key: "s1",
      setAliases: [],
      conflicts: [],
    });
  });

  it("lets shared_id win over a conflicting id alias, and reports it", () => {
    expect(resolveHandoffKey({ id: "c1", shared_id: "s2" }, { bySharedId: "s2", byId: "s1" })).toEqual({
      key: "s2",
      setAliases: [],
      conflicts: [{ kind: "id", value: "c1", key: "s1" }],
    });
  });

  it("is stable: resolving again with the aliases it set gives the same key and nothing to set", () => {
    const ids = fc.string({ minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(ids, fc.option(ids, { nil: undefined }), (id, sharedId) => {
        const event = sharedId === undefined ? { id } : { id, shared_id: sharedId };
        const first = resolveHandoffKey(event, {});
        const lookup = (kind: "id" | "shared_id") => first.setAliases.find((a) => a.kind === kind)?.key;
        const again = resolveHandoffKey(event, { byId: lookup("id"), bySharedId: lookup("shared_id") });
        expect(again.key).toBe(first.key);
        expect(again.setAliases).toEqual([]);
      }),
    );
  });
});

describe("jobIdPart", () => {
  it("encodes separators and prefixes", () => {
    expect(jobIdPart("123")).toBe("k123");
    expect(jobIdPart("acme:42")).toBe("kacme%3A42");
    expect(jobIdPart("a\uD800b")).toBe("ka%uD800b");
  });

  const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
  const keys = fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: codeUnit }),
    fc.stringMatching(/^[0-9:%.ku]*$/),
  );

  // A decoder that inverts the encoding proves injectivity outright, where random pairs almost never collide.
  const decode = (part: string): string =>
    part
      .slice(1)
      .replace(
        /%u([0-9A-F]{4})|((?:%[0-9A-F]{2})+)/g,
        (_m, unit: string | undefined, bytes: string | undefined) =>
          unit !== undefined
            ? String.fromCharCode(Number.parseInt(unit, 16))
            : decodeURIComponent(bytes ?? ""),
      );

  it("never contains ':' and is never all digits", () => {
    fc.assert(
      fc.property(keys, (key) => {
        const part = jobIdPart(key);
        expect(part).not.toContain(":");
        expect(part).not.toMatch(/^\d+$/);
      }),
      { numRuns: 1000 },
    );
  });

  it("is injective: it decodes back to the key", () => {
    fc.assert(
      fc.property(keys, (key) => {
        const part = jobIdPart(key);
        expect(part.startsWith("k")).toBe(true);
        expect(decode(part)).toBe(key);
      }),
      { numRuns: 2000 },
    );
  });

  it("maps distinct keys to distinct parts", () => {
    fc.assert(
      fc.property(keys, keys, (a, b) => {
        fc.pre(a !== b);
        expect(jobIdPart(a)).not.toBe(jobIdPart(b));
      }),
      { numRuns: 2000 },
    );
  });

  it("is injective on near-collisions", () => {
    const tricky = ["%3A", ":", "%u", "%uD800", "\uD800", "\uDC00", "\uD800\uDC00", ".", "%2E", "k", ""];
    const parts = tricky.map(jobIdPart);
    expect(new Set(parts).size).toBe(tricky.length);
  });
});
