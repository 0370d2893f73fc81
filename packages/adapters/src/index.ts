export * from "./contract.js";
export * from "./registry.js";
export * from "./mapping/index.js";
export * from "./http/headers.js";
export * from "./http/private-network.js";
export * from "./http/response-excerpt.js";
export * from "./http/retry-after.js";
export * from "./webhook/index.js";
