export * from "./faults.js";
export * from "./fake-server.js";
