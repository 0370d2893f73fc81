export * from "./adapter.js";
export * from "./classify.js";
export * from "./message-id.js";
export * from "./payload.js";
export * from "./secret.js";
export * from "./sign.js";
export * from "./operator-webhook.js";
