export * from "./adapter.js";
export * from "./auth.js";
export * from "./classify.js";
export * from "./jwt-assertion.js";
export * from "./mapping.js";
