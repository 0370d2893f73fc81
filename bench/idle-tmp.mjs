import { startService, freePort } from "@handoff-sync/testing";
import { writeFileSync } from "node:fs";
import { Kafka } from "kafkajs";
const topic = "idle-" + Date.now();
const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS.split(","), logLevel: 0 });
const admin = kafka.admin(); await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 3 }, { topic: topic + ".dlq", numPartitions: 1 }] }); await admin.disconnect();
writeFileSync("/tmp/idle/d.yaml", ["version: 1","source:",`  topic: ${topic}`,`  rejected_topic: ${topic}.dlq`,"destinations:","  crm:","    type: webhook","    url: http://127.0.0.1:9/x","    secret: env:S","    allow_private_network: true","    concurrency: 16",""].join("\n"));
const env = { KAFKA_BROKERS: process.env.KAFKA_BROKERS, REDIS_URL: process.env.REDIS_URL, REDIS_PREFIX: "idle" + Date.now(), KAFKA_GROUP_ID: topic, KAFKA_CREATE_TOPICS: "false", HANDOFF_SYNC_CONFIG: "/tmp/idle/d.yaml", S: "whsec_" + Buffer.alloc(32, 1).toString("base64"), LOG_LEVEL: "info" };
const svcs = [];
for (const n of ["consumer", "worker"]) svcs.push([n, await startService(n, env, { port: await freePort() })]);
await new Promise((r) => setTimeout(r, 10000));
for (const [n, s] of svcs) { console.log(n, s.process.pid, (await import("node:fs")).readFileSync(`/proc/${s.process.pid}/status`,"utf8").split("\n").filter(l=>/VmRSS|RssAnon|RssFile/.test(l)).join(" ")); await s.stop(); }
