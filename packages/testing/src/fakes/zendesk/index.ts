export * from "./fake-zendesk.js";
export * from "./responses.js";
