export * from "./command.js";
export * from "./cli.js";
export * from "./output.js";
export * from "./adapters.js";
export { COMMANDS } from "./commands/index.js";
export { exitCodeOf, type CheckOutcome, type CheckStatus } from "./commands/destinations-check.js";
