export * from "./provision.js";
export * from "./names.js";
export * from "./wait.js";
export * from "./services.js";
export * from "./ports.js";
export * from "./pipeline.js";
export * from "./fakes/index.js";
