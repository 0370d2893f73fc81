import { Queue, Worker } from "bullmq";
import IORedis from "ioredis";
const role = process.argv[2];
const n = Number(process.argv[3] ?? 5000);
const name = process.argv[4] ?? "floor";
const conn = new IORedis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null, enableAutoPipelining: process.env.AP === "1" });
const payload = { key: "x".repeat(40), version: 1, destination: "webhook", enqueued_at: new Date().toISOString(), traceparent: "00-" + "a".repeat(32) + "-" + "b".repeat(16) + "-01" };
if (role === "add") {
  const q = new Queue(name, { connection: conn, prefix: "floor" });
  const c0 = process.cpuUsage(); const t0 = Date.now();
  for (let i = 0; i < n; i += 100) {
    const jobs = [];
    for (let j = i; j < i + 100; j++) jobs.push({ name: "d", data: { ...payload, key: "k" + j }, opts: { jobId: "k" + j + "-1", removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } } });
    await q.addBulk(jobs);
  }
  const c = process.cpuUsage(c0);
  console.log(`add: ${n} in ${Date.now() - t0} ms, cpu ${(c.user + c.system) / 1000 / (n / 1000)} ms per 1000`);
  await q.close(); await conn.quit();
} else {
  let done = 0; let c0; let t0;
  const w = new Worker(name, async (job) => { if (done === 0) { c0 = process.cpuUsage(); t0 = Date.now(); } return undefined; }, { connection: conn, prefix: "floor", concurrency: 16, autorun: true, ...(process.argv[5] === "limiter" ? { limiter: { max: 100000, duration: 1000 } } : {}) });
  w.on("completed", async () => { done++; if (done === n) { const c = process.cpuUsage(c0); console.log(`worker: ${n} in ${Date.now() - t0} ms, cpu ${(c.user + c.system) / 1000 / (n / 1000)} ms per 1000`); await w.close(); await conn.quit(); } });
}
