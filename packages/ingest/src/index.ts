export * from "./decode.js";
export * from "./ingest.js";
export * from "./normalise.js";
export * from "./failure.js";
