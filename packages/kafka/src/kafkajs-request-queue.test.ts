import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

// kafkajs' per-connection request queue, patched in patches/kafkajs@2.2.4.patch. It has no types:
// this is the part of it the tests drive.
interface RequestEntry {
  correlationId: number;
  apiKey: number;
  apiName: string;
  apiVersion: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}
interface RequestQueue {
  throttleCheckTimeoutId: unknown;
  push(request: { entry: RequestEntry; expectResponse: boolean; sendRequest(): void }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer | null; size: number }): void;
  maybeThrottle(ms: number): void;
  checkPendingRequests(): void;
  destroy(): void;
}
type RequestQueueClass = new (options: Record<string, unknown>) => RequestQueue;

const loaded: unknown = createRequire(import.meta.url)("kafkajs/src/network/requestQueue/index.js");
const RequestQueueClass = loaded as RequestQueueClass;

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function queue(): { queue: RequestQueue; checks: () => number } {
  const created = new RequestQueueClass({
    maxInFlightRequests: null,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: "request-queue-test",
    broker: "127.0.0.1:9092",
    logger: silent,
  });
  let count = 0;
  const check = created.checkPendingRequests.bind(created);
  created.checkPendingRequests = () => {
    count += 1;
    check();
  };
  return { queue: created, checks: () => count };
}

function entry(correlationId: number, settled: (value: unknown) => void): RequestEntry {
  return { correlationId, apiKey: 3, apiName: "Metadata", apiVersion: 6, resolve: settled, reject: settled };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("kafkajs request queue (patched)", () => {
  it("arms no timer once a response leaves nothing pending: no negative delay, no 1 ms loop", async () => {
    const { queue: q, checks } = queue();
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      let sent = 0;
      q.push({ entry: entry(1, () => {}), expectResponse: true, sendRequest: () => void (sent += 1) });
      q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
      expect(sent).toBe(1);
      expect(q.throttleCheckTimeoutId).toBeNull();
      await sleep(60);
      // Unpatched, the check re-arms itself with a negative delay (1 ms) and runs ~60 times here.
      expect(checks()).toBe(1);
      expect(warnings).not.toContain("TimeoutNegativeWarning");
    } finally {
      process.off("warning", onWarning);
      q.destroy();
    }
  });

  it("still sends a request held back by client-side throttling once the throttle ends", async () => {
    const { queue: q } = queue();
    try {
      q.maybeThrottle(30);
      let sentAt = 0;
      const pushedAt = Date.now();
      q.push({
        entry: entry(2, () => {}),
        expectResponse: true,
        sendRequest: () => void (sentAt = Date.now()),
      });
      expect(sentAt).toBe(0);
      await sleep(100);
      expect(sentAt - pushedAt).toBeGreaterThanOrEqual(25);
      q.fulfillRequest({ correlationId: 2, payload: null, size: 0 });
      expect(q.throttleCheckTimeoutId).toBeNull();
    } finally {
      q.destroy();
    }
  });
});
