import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, isSafeRedactPath } from "./logger.js";

function capture(redact?: readonly string[]): {
  lines: Record<string, unknown>[];
  log: ReturnType<typeof createLogger>;
} {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  });
  return {
    lines,
    log: createLogger({ level: "debug", service: "test", destination, ...(redact ? { redact } : {}) }),
  };
}

describe("createLogger", () => {
  it("redacts credentials by default and the configured PII paths", () => {
    const { lines, log } = capture(["data.email", "data.phone", "*.ssn"]);
    log.debug(
      {
        apiKey: "k-123",
        headers: { authorization: "Bearer t0ken", "x-api-key": "k-456", cookie: "s=1" },
        config: { secret: "whsec_x", password: "p" },
        data: { email: "jane@example.com", phone: "+1 555 0100", customer_id: "42" },
        person: { ssn: "123-45-6789" },
      },
      "event ingested",
    );
    const text = JSON.stringify(lines);
    for (const secret of [
      "k-123",
      "t0ken",
      "k-456",
      "s=1",
      "whsec_x",
      "jane@example.com",
      "+1 555 0100",
      "123-45-6789",
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({
      data: { email: "[Redacted]", phone: "[Redacted]", customer_id: "42" },
      service: "test",
      level: "debug",
    });
  });

  it("refuses redact paths that are not dotted field names", () => {
    expect(() =>
      createLogger({ level: "info", service: "test", redact: ["data.email", "a;process.exit()"] }),
    ).toThrow(/unsafe log redact paths: a;process.exit\(\)/);
  });
});

describe("isSafeRedactPath", () => {
  it.each(["email", "data.email", "*.email", "data.*", "data.contact.phone", "$meta._x1"])(
    "accepts %s",
    (path) => {
      expect(isSafeRedactPath(path)).toBe(true);
    },
  );
  it.each([
    "",
    "*",
    "*.*",
    "data..email",
    "data.email.",
    "data['email']",
    "data[0]",
    "1abc",
    "a-b",
    "a.b.c.d.e.f.g.h.i",
    "data.email,other",
    " data",
  ])("rejects %j", (path) => {
    expect(isSafeRedactPath(path)).toBe(false);
  });
});
