export * from "./error-bodies.js";
export * from "./fake-hubspot.js";
export * from "./properties.js";
export * from "./rate-limit.js";
export * from "./token-store.js";
