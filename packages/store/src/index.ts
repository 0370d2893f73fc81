export * from "./keys.js";
export * from "./ledger-entry.js";
export * from "./handoff-store.js";
export * from "./enrichment-cache.js";
export * from "./redis-client.js";
export * from "./slots.js";
export { createScriptRunner, type ScriptRunner } from "./scripts.js";
