export * from "./faults.js";
export * from "./fake-server.js";
export * from "./zendesk/index.js";
export * from "./hubspot/index.js";
export * from "./salesforce/index.js";
export * from "./servicenow/index.js";
export * from "./handoff-api.js";
