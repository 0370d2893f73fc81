export * from "./encoded-query.js";
export * from "./fake-servicenow.js";
