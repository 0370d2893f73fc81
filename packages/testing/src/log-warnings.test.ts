import { describe, expect, it } from "vitest";
import { findWarnings } from "./log-warnings.js";

describe("findWarnings", () => {
  it("keeps pino lines at warn, error and fatal, and drops info and debug", () => {
    const lines = [30, 40, 50, 60, 20].map((level) => JSON.stringify({ level, msg: `at ${level}` }));
    expect(findWarnings("consumer", lines).map((w) => w.line)).toEqual(lines.slice(1, 4));
  });

  it("reads the level labels the services log", () => {
    const lines = ["info", "warn", "error", "fatal", "debug"].map((level) =>
      JSON.stringify({ level, msg: level }),
    );
    expect(findWarnings("worker", lines).map((w) => w.line)).toEqual(lines.slice(1, 4));
  });

  it("finds Node's process warnings, with or without a code", () => {
    const lines = [
      "(node:4242) TimeoutNegativeWarning: -1796000000000 is a negative number.",
      "Timeout duration was set to 1.",
      "(node:4242) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.",
      "(Use `node --trace-warnings ...` to show where the warning was created)",
    ];
    expect(findWarnings("api", lines)).toEqual([
      { source: "api", line: lines[0], why: "node warning" },
      { source: "api", line: lines[2], why: "node warning" },
    ]);
  });

  it("ignores a Warning inside an info line's message, and plain output", () => {
    const lines = [
      JSON.stringify({ level: 30, msg: "Warning: not one" }),
      "delivered acme_1 v2 handoff_completed",
    ];
    expect(findWarnings("demo-crm", lines)).toEqual([]);
  });
});
