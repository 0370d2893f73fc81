export * from "./errors.js";
export * from "./audit.js";
export * from "./delivery-status.js";
export * from "./rejected.js";
export * from "./admin.js";
