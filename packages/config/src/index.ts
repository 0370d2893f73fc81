export * from "./config-error.js";
export * from "./parse-env.js";
export * from "./env-schemas.js";
export * from "./secret-ref.js";
export * from "./destinations-schema.js";
export * from "./load-destinations.js";
export * from "./route-event.js";
