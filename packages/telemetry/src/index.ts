export * from "./logger.js";
export * from "./error-serializer.js";
export * from "./health.js";
export * from "./shutdown.js";
export * from "./metrics.js";
export * from "./delivery-metrics.js";
export * from "./ingest-metrics.js";
export * from "./tracing.js";
