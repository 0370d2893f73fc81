export * from "./client.js";
export * from "./message.js";
export * from "./rejected-publisher.js";
export * from "./batch-consumer.js";
export * from "./record-window.js";
export * from "./topics.js";
export type { Kafka, Producer } from "kafkajs";
export * from "./topic-reader.js";
export * from "./event-producer.js";
