import { createStateCatalogue, type HandoffEvent } from "@handoff-sync/schema";
import { uniqueName, waitFor } from "@handoff-sync/testing";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createHandoffStore } from "./handoff-store.js";

const catalogue = createStateCatalogue({});
const context = () => ({ catalogue, receivedAt: new Date().toISOString() });

const event = (fields: Partial<HandoffEvent> & Pick<HandoffEvent, "event_id" | "id">): HandoffEvent => ({
  schema_version: 1,
  state: "handoff_initiated",
  occurred_at: "2026-11-25T10:00:00.000Z",
  data: {},
  ...fields,
});

/**
 * The consumer's Redis cost per event is mostly the store's apply; these budgets are what
 * docs/performance.md counts, watched on the server (MONITOR, commands sent by clients only, not
 * those run inside scripts), so a change that adds a command to the hot path shows here.
 */
// Counted with MONITOR on one server: on a cluster the commands spread over several.
describe.skipIf(inject("redisCluster"))("what an apply costs in Redis commands", () => {
  const redis = new Redis(inject("redisUrl"));
  const monitorClient = new Redis(inject("redisUrl"));
  afterAll(async () => {
    await Promise.all([redis.quit(), monitorClient.quit()]);
  });

  // On one Redis an apply is two script calls whatever it sets (decision 0060); across slots (a
  // cluster) the aliases take their own claims and commits.
  it("a new handoff's first event and a later one: two commands each", async () => {
    const prefix = uniqueName("t");
    const store = createHandoffStore({ redis, prefix, retentionMs: 60_000 });
    // Loads every script, so no NOSCRIPT fallback is counted below.
    await store.apply(event({ event_id: "w1", id: "warm", shared_id: "warm-s" }), context());
    await store.apply(
      event({
        event_id: "w2",
        id: "warm",
        shared_id: "warm-s",
        state: "handoff_completed",
        occurred_at: "2026-11-25T10:01:00.000Z",
      }),
      context(),
    );
    const seen: string[][] = [];
    const monitor = await monitorClient.monitor();
    monitor.on("monitor", (_time: string, args: string[], source: string) => {
      if (source !== "lua" && args.some((arg) => arg.includes(prefix))) seen.push(args);
    });
    const mark = async (label: string): Promise<void> => {
      await redis.echo(`${prefix}:${label}`);
      await waitFor(
        () => seen.some((args) => args[0]?.toLowerCase() === "echo" && args[1] === `${prefix}:${label}`),
        {
          message: label,
        },
      );
    };
    await mark("start");
    await store.apply(event({ event_id: "e1", id: "conv-1", shared_id: "acme-1" }), context());
    await mark("first");
    await store.apply(
      event({
        event_id: "e2",
        id: "conv-1",
        shared_id: "acme-1",
        state: "handoff_completed",
        occurred_at: "2026-11-25T10:01:00.000Z",
      }),
      context(),
    );
    await mark("second");
    monitor.disconnect();
    const between = (from: string, to: string): string[] => {
      const names = seen.map((args) => `${args[0]?.toLowerCase()} ${args[1] ?? ""}`);
      const start = names.indexOf(`echo ${prefix}:${from}`);
      const end = names.indexOf(`echo ${prefix}:${to}`);
      return names.slice(start + 1, end).map((n) => n.split(" ")[0] ?? "");
    };
    const first = between("start", "first");
    const second = between("first", "second");
    expect(first, first.join(" ")).toEqual(["evalsha", "evalsha"]);
    expect(second, second.join(" ")).toEqual(["evalsha", "evalsha"]);
  });
});
