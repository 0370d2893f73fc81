export * from "./adapter.js";
export * from "./auth.js";
export * from "./classify.js";
export * from "./mapping.js";
export * from "./response.js";
