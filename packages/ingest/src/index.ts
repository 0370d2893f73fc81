export * from "./decode.js";
export * from "./ingest.js";
export * from "./normalise.js";
export * from "./failure.js";
export * from "./sip.js";
export * from "./chat-lifecycle.js";
export * from "./observe.js";
