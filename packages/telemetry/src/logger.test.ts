import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createLogger, isSafeRedactPath, loggerForPlainFields } from "./logger.js";

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

describe("loggerForPlainFields", () => {
  const fields = ["handoffKey", "jobId", "destination", "version", "status"] as const;
  const line = { handoffKey: "acme-1", jobId: "j1", destination: "crm", version: 2, status: 204 };

  it("writes the same line as the logger it comes from, without redaction's work", () => {
    const { lines, log } = capture(["data.email", "*.ssn"]);
    const child = log.child({ worker: "w1" });
    const plain = loggerForPlainFields(child, fields);
    expect(plain).not.toBe(child);
    child.info(line, "delivery attempt");
    plain.info(line, "delivery attempt");
    const [viaLog, viaPlain] = lines.map(({ time: _time, ...rest }) => rest);
    expect(viaPlain).toEqual(viaLog);
    expect(viaPlain).toMatchObject({ ...line, worker: "w1", service: "test" });
  });

  it("keeps redaction when a configured path names one of the fields", () => {
    const { lines, log } = capture(["handoffKey"]);
    const plain = loggerForPlainFields(log, fields);
    expect(plain).toBe(log);
    plain.info(line, "delivery attempt");
    expect(lines[0]?.handoffKey).toBe("[Redacted]");
  });

  it("returns a logger it did not build unchanged", () => {
    const foreign = pino({ enabled: false });
    expect(loggerForPlainFields(foreign, fields)).toBe(foreign);
  });
});
