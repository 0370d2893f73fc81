import { describe, expect, it } from "vitest";
import { z } from "zod";
import { allowedKeysAt, describeIssues } from "./describe-issues.js";

const Auth = z.discriminatedUnion("method", [
  z.strictObject({ method: z.literal("basic"), username: z.string(), password: z.string() }),
  z.strictObject({ method: z.literal("oauth"), client_id: z.string(), client_secret: z.string() }),
]);
const Destination = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("a"),
    url: z.string(),
    auth: Auth,
    retry: z.strictObject({ attempts: z.number().default(1) }).prefault({}),
  }),
  z.strictObject({ type: z.literal("b"), host: z.string() }),
]);
const File = z.strictObject({
  destinations: z.record(z.string(), Destination),
  list: z.array(z.strictObject({ name: z.string() })).optional(),
  rules: z
    .record(
      z.string(),
      z.union([
        z.string().transform((path) => ({ path })),
        z.strictObject({ path: z.string(), join: z.string().optional() }),
      ]),
    )
    .optional(),
  one: z
    .preprocess(
      (v: unknown) => (Array.isArray(v) ? (v as unknown[]) : [v]),
      z.array(z.strictObject({ id: z.string() })),
    )
    .optional(),
});

describe("allowedKeysAt", () => {
  const input = {
    destinations: { x: { type: "a", auth: { method: "oauth" } }, y: { type: "b" }, z: { type: "nope" } },
    list: [{}],
    rules: { r: {} },
    one: {},
  };

  it.each([
    [[], ["destinations", "list", "rules", "one"]],
    [
      ["destinations", "x"],
      ["type", "url", "auth", "retry"],
    ],
    [
      ["destinations", "x", "auth"],
      ["method", "client_id", "client_secret"],
    ],
    [["destinations", "x", "retry"], ["attempts"]],
    [
      ["destinations", "y"],
      ["type", "host"],
    ],
    [["list", 0], ["name"]],
    [
      ["rules", "r"],
      ["path", "join"],
    ],
    [["one", 0], ["id"]],
  ])("at %j: %j", (path, keys) => {
    expect(allowedKeysAt(File, path, input)).toEqual(keys);
  });

  it("knows nothing where the input's discriminator matches no option", () => {
    expect(allowedKeysAt(File, ["destinations", "z"], input)).toBeUndefined();
    expect(allowedKeysAt(File, ["destinations", "x", "url"], input)).toBeUndefined();
  });
});

describe("describeIssues", () => {
  it("reports each unknown key at the key, with the nearest name or the allowed ones", () => {
    const input = {
      destinations: {
        x: { type: "a", url: "u", auth: { method: "basic", usernme: "u", password: "p", pwd: "q" } },
      },
    };
    const result = File.safeParse(input);
    expect(result.success).toBe(false);
    expect(describeIssues(File, result.error?.issues ?? [], input)).toEqual([
      { path: ["destinations", "x", "auth", "username"], message: "required (string)" },
      { path: ["destinations", "x", "auth", "usernme"], message: 'unknown key; did you mean "username"?' },
      {
        path: ["destinations", "x", "auth", "pwd"],
        message: "unknown key; expected one of: method, username, password",
      },
    ]);
  });

  it("reports a missing or unknown discriminator with the values allowed", () => {
    const input = { destinations: { x: { type: "aa" }, y: { url: "u" } } };
    const result = File.safeParse(input);
    expect(describeIssues(File, result.error?.issues ?? [], input)).toEqual([
      {
        path: ["destinations", "x", "type"],
        message: 'unknown type "aa"; did you mean "a"?; expected one of: a, b',
      },
      { path: ["destinations", "y", "type"], message: "required; one of: a, b" },
    ]);
  });
});
