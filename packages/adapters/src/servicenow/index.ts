export * from "./adapter.js";
export * from "./auth.js";
export * from "./classify.js";
export * from "./key-lock.js";
export * from "./mapping.js";
