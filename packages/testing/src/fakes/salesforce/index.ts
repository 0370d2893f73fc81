export * from "./errors.js";
export * from "./fake-salesforce.js";
export * from "./jwt-assertion.js";
