export * from "./view.js";
export * from "./evaluate.js";
