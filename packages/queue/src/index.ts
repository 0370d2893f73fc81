export * from "./names.js";
export * from "./job-options.js";
export * from "./delivery-queues.js";
export * from "./dead-letters.js";
export * from "./delivery-worker.js";
