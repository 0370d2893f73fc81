import { describe, expect, it } from "vitest";
import {
  ApiKeysError,
  assertUniqueNames,
  authenticate,
  createFailureLimiter,
  hasScope,
  parseApiKeysEnv,
  parseApiKeysFile,
  parseTrustProxy,
} from "./auth.js";

describe("API keys", () => {
  it("parses the environment form and the file form", () => {
    const fromEnv = parseApiKeysEnv(
      "ci:read:aaaaaaaaaaaaaaaa, sre:operate+read:bbbbbbbbbbbbbbbb:with:colons",
    );
    expect(fromEnv.map((k) => [k.name, k.scopes])).toEqual([
      ["ci", ["read"]],
      ["sre", ["operate", "read"]],
    ]);
    expect(authenticate(fromEnv, "bbbbbbbbbbbbbbbb:with:colons")?.name).toBe("sre");
    const fromFile = parseApiKeysFile(
      "# operators\n\nroot admin cccccccccccccccc\nbot read,operate dddddddddddddddd\n",
      "keys.txt",
    );
    expect(fromFile.map((k) => [k.name, k.scopes])).toEqual([
      ["root", ["admin"]],
      ["bot", ["read", "operate"]],
    ]);
  });

  it("rejects malformed entries, unknown scopes, short keys and duplicate names, naming where", () => {
    expect(() => parseApiKeysEnv("nokey")).toThrow(/entry 1: expected name:scopes:key/);
    expect(() => parseApiKeysEnv("a:write:aaaaaaaaaaaaaaaa")).toThrow(/read, operate, admin or ingest/);
    expect(() => parseApiKeysEnv("a:read:short")).toThrow(/shorter than 16/);
    expect(() => parseApiKeysFile("a read\n", "keys.txt")).toThrow(/keys.txt:1/);
    expect(() =>
      assertUniqueNames(parseApiKeysEnv("a:read:aaaaaaaaaaaaaaaa,a:admin:bbbbbbbbbbbbbbbb")),
    ).toThrow(ApiKeysError);
  });

  it("authenticates only an exact key and ranks scopes admin > operate > read", () => {
    const keys = parseApiKeysEnv(
      "r:read:rrrrrrrrrrrrrrrr,o:operate:oooooooooooooooo,a:admin:aaaaaaaaaaaaaaaa",
    );
    expect(authenticate(keys, "rrrrrrrrrrrrrrr")).toBeUndefined();
    expect(authenticate(keys, "rrrrrrrrrrrrrrrrr")).toBeUndefined();
    expect(authenticate(keys, "")).toBeUndefined();
    const reader = authenticate(keys, "rrrrrrrrrrrrrrrr");
    const operator = authenticate(keys, "oooooooooooooooo");
    const admin = authenticate(keys, "aaaaaaaaaaaaaaaa");
    if (!reader || !operator || !admin) throw new Error("keys not found");
    expect([hasScope(reader, "read"), hasScope(reader, "operate"), hasScope(reader, "admin")]).toEqual([
      true,
      false,
      false,
    ]);
    expect([hasScope(operator, "read"), hasScope(operator, "operate"), hasScope(operator, "admin")]).toEqual([
      true,
      true,
      false,
    ]);
    expect([hasScope(admin, "read"), hasScope(admin, "operate"), hasScope(admin, "admin")]).toEqual([
      true,
      true,
      true,
    ]);
  });

  it("ingest stands apart: a producer's key posts events only, and no operator key posts them", () => {
    const producer = { name: "sbc", scopes: ["ingest" as const] };
    expect(["read", "operate", "admin", "ingest"].map((s) => hasScope(producer, s as "read"))).toEqual([
      false,
      false,
      false,
      true,
    ]);
    expect(hasScope({ name: "root", scopes: ["admin"] }, "ingest")).toBe(false);
    expect(parseApiKeysEnv("sbc:ingest:ssssssssssssssss")[0]?.scopes).toEqual(["ingest"]);
  });
});

describe("failure limiter", () => {
  it("locks a client out after the limit, doubling the lockout up to the cap, and forgets old failures", () => {
    const limiter = createFailureLimiter({ limit: 3, windowMs: 60_000, maxLockoutMs: 5000 });
    expect([limiter.fail("a", 0), limiter.fail("a", 1)]).toEqual([0, 0]);
    expect(limiter.fail("a", 2)).toBe(1000);
    expect(limiter.lockedFor("a", 500)).toBe(502);
    expect(limiter.lockedFor("b", 500)).toBe(0);
    expect(limiter.fail("a", 1100)).toBe(2000);
    expect(limiter.fail("a", 3200)).toBe(4000);
    expect(limiter.fail("a", 7300)).toBe(5000);
    // A minute later the window holds one failure again.
    expect(limiter.fail("a", 200_000)).toBe(0);
  });
});

describe("parseTrustProxy", () => {
  it("reads false, true as one hop, hop counts, and proxy addresses or ranges", () => {
    expect(parseTrustProxy("false")).toBe(false);
    expect(parseTrustProxy("true")).toBe(1);
    expect(parseTrustProxy("2")).toBe(2);
    expect(parseTrustProxy("10.0.0.0/8, 192.168.1.10,fd00::/8")).toEqual([
      "10.0.0.0/8",
      "192.168.1.10",
      "fd00::/8",
    ]);
  });

  it("refuses what is neither, naming the entries", () => {
    expect(parseTrustProxy("ingress.local")).toEqual({
      problem: "not a hop count, true/false, or proxy addresses and CIDR ranges: ingress.local",
    });
    expect(parseTrustProxy("10.0.0.0/33")).toHaveProperty("problem");
    expect(parseTrustProxy("11")).toEqual({ problem: "at most 10 proxy hops" });
  });
});
