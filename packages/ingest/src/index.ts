export * from "./decode.js";
export * from "./ingest.js";
