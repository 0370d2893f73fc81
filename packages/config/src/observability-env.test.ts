import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { CommonEnvSchema, otlpTracesEndpoint, TracingEnvSchema } from "./env-schemas.js";
import { parseEnv } from "./parse-env.js";

const common = { HANDOFF_SYNC_CONFIG: "config.yaml" };

describe("LOG_REDACT_PATHS", () => {
  it("splits and trims comma-separated dotted paths; unset or empty means none", () => {
    expect(
      parseEnv(CommonEnvSchema, { ...common, LOG_REDACT_PATHS: " data.email, data.phone ,*.ssn," })
        .LOG_REDACT_PATHS,
    ).toEqual(["data.email", "data.phone", "*.ssn"]);
    expect(parseEnv(CommonEnvSchema, common).LOG_REDACT_PATHS).toEqual([]);
    expect(parseEnv(CommonEnvSchema, { ...common, LOG_REDACT_PATHS: "" }).LOG_REDACT_PATHS).toEqual([]);
  });

  it("refuses anything but dotted field names, since pino compiles the paths into code", () => {
    for (const bad of ["data['email']", "data.email;process.exit()", "*", "data..email", "a-b"]) {
      expect(
        () => parseEnv(CommonEnvSchema, { ...common, LOG_REDACT_PATHS: `data.phone,${bad}` }),
        bad,
      ).toThrow(ConfigError);
    }
    expect(() => parseEnv(CommonEnvSchema, { ...common, LOG_REDACT_PATHS: "data[0]" })).toThrow(
      /LOG_REDACT_PATHS\.0: must be a dotted path/,
    );
  });
});

describe("tracing environment", () => {
  it("is off without an endpoint", () => {
    expect(otlpTracesEndpoint(parseEnv(TracingEnvSchema, {}))).toBeUndefined();
  });

  it("appends /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT and takes OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, which wins", () => {
    expect(
      otlpTracesEndpoint(
        parseEnv(TracingEnvSchema, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }),
      ),
    ).toBe("http://collector:4318/v1/traces");
    expect(
      otlpTracesEndpoint(
        parseEnv(TracingEnvSchema, {
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example.com/otlp/v1/traces",
        }),
      ),
    ).toBe("https://traces.example.com/otlp/v1/traces");
  });

  it("refuses an endpoint that is not an http(s) URL", () => {
    expect(() => parseEnv(TracingEnvSchema, { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
    expect(() =>
      parseEnv(TracingEnvSchema, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "grpc://collector:4317" }),
    ).toThrow(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/);
  });
});
