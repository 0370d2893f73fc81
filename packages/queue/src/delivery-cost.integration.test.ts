import { createStateCatalogue, type HandoffEvent } from "@handoff-sync/schema";
import { createHandoffStore } from "@handoff-sync/store";
import { createLogger } from "@handoff-sync/telemetry";
import { uniqueName, waitFor } from "@handoff-sync/testing";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDeliveryQueues } from "./delivery-queues.js";
import { createDeliveryWorker } from "./delivery-worker.js";

const log = createLogger({ level: "silent", service: "test" });

/**
 * What a successful delivery costs in Redis beyond BullMQ's own fetch and complete, watched on the
 * server (MONITOR: commands clients send, not those run inside scripts). docs/performance.md counts
 * the same; a change that adds a command to the hot path shows here.
 */
// Counted with MONITOR on one server: on a cluster the commands spread over several.
describe.skipIf(inject("redisCluster"))("what a delivery costs in Redis commands", () => {
  // As the worker service wires them: BullMQ on one connection, the store and the destinations'
  // state on an auto-pipelined one.
  const connection = new Redis(inject("redisUrl"), { maxRetriesPerRequest: null });
  const storeConnection = new Redis(inject("redisUrl"), {
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
  });
  const monitorClient = new Redis(inject("redisUrl"));
  afterAll(async () => {
    await Promise.all([connection.quit(), storeConnection.quit(), monitorClient.quit()]);
  });

  it("reads and claims the write in one command, records and cleans up in two", async () => {
    const prefix = uniqueName("t");
    const store = createHandoffStore({ redis: storeConnection, prefix, retentionMs: 60_000 });
    const queues = createDeliveryQueues({
      connection,
      stateConnection: storeConnection,
      prefix,
      destinations: { crm: { attempts: 3, base_delay_ms: 100, max_delay_ms: 1000 } },
    });
    const event = (id: string): HandoffEvent => ({
      schema_version: 1,
      event_id: `${id}-e1`,
      id,
      state: "handoff_initiated",
      occurred_at: new Date().toISOString(),
      data: {},
    });
    const delivered: string[] = [];
    const worker = createDeliveryWorker({
      queue: queues.get("crm"),
      connection,
      store,
      log,
      concurrency: 1,
      deliver: async ({ snapshot, beforeWrite }) => {
        await beforeWrite();
        delivered.push(snapshot.key);
        return { status: 204 };
      },
    });
    const apply = (id: string) =>
      store.apply(event(id), { catalogue: createStateCatalogue({}), receivedAt: new Date().toISOString() });
    const deliver = async (id: string, occurredAt: string): Promise<void> => {
      await queues.enqueue("crm", {
        v: 1,
        key: id,
        version: 1,
        event_id: `${id}-e1`,
        occurred_at: occurredAt,
        enqueued_at: new Date().toISOString(),
      });
      await waitFor(() => delivered.includes(id), { message: `${id} delivered` });
      // The clean-up after the CRM write runs before the job completes.
      await waitFor(async () => (await queues.get("crm").deliver.getCompletedCount()) >= delivered.length, {
        message: `${id} completed`,
      });
    };
    try {
      // Loads every script, so no NOSCRIPT fallback is counted below.
      await deliver("warm", (await apply("warm")).snapshot.occurred_at);
      const { snapshot } = await apply("conv-1");
      const seen: { id: string; command: string; source: string }[] = [];
      const monitor = await monitorClient.monitor();
      monitor.on("monitor", (_time: string, args: string[], source: string) => {
        if (source === "lua") return;
        // The handoff's own keys and the destination's state; BullMQ's queue keys are its business.
        const key = args.find((arg) => arg.includes("{h:") || arg.endsWith(":state"));
        if (key !== undefined) seen.push({ id: key, command: (args[0] ?? "").toLowerCase(), source });
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await deliver("conv-1", snapshot.occurred_at);
      await new Promise((resolve) => setTimeout(resolve, 100));
      monitor.disconnect();
      const commands = seen.filter((c) => c.id.includes("conv-1") || c.id.endsWith(":state"));
      // The write claim rides on the begin script: no command of its own before the write.
      expect(commands.map((c) => c.command)).toEqual(["evalsha", "evalsha", "hdel"]);
      // All three on the store's connection: the success mark (hdel) leaves with the ledger script
      // in one auto-pipelined write instead of a round trip of its own on BullMQ's connection.
      const storePort = (storeConnection as unknown as { stream: { localPort: number } }).stream.localPort;
      expect(commands.map((c) => c.source.split(":").at(-1))).toEqual(Array(3).fill(String(storePort)));
    } finally {
      await worker.close();
      await queues.close();
    }
  });
});
