import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("demo-crm config", () => {
  it("defaults the port and splits rotated secrets", () => {
    expect(loadConfig({ DEMO_WEBHOOK_SECRET: "whsec_a whsec_b", PORT: "" })).toEqual({
      PORT: 4000,
      DEMO_WEBHOOK_SECRET: ["whsec_a", "whsec_b"],
      LOG_LEVEL: "info",
    });
  });

  it("names every bad variable, one per line", () => {
    expect(() => loadConfig({ PORT: "http" })).toThrow(
      /^invalid demo-crm configuration:\n {2}- (PORT: .*\n {2}- DEMO_WEBHOOK_SECRET: is required but not set|DEMO_WEBHOOK_SECRET: is required but not set\n {2}- PORT: .*)$/,
    );
  });
});
