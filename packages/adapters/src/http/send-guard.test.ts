import { createServer, type Server } from "node:http";
import { lookup as dnsLookup } from "node:dns";
import type { AddressInfo, LookupFunction } from "node:net";
import { RetryableDeliveryError } from "@handoff-sync/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDestinationHttp } from "./destination-http.js";
import { withSendGuard } from "./send-guard.js";

describe("the send guard: checked as a write is put on its connection", () => {
  const received: string[] = [];
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      received.push(`${req.method} ${req.url}`);
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  // A slow resolver stands in for the asynchronous gap between an adapter's last check and the write.
  let resolvedAt = 0;
  const slowLookup: LookupFunction = (hostname, options, callback) => {
    setTimeout(() => {
      resolvedAt = Date.now();
      dnsLookup(hostname, options, callback);
    }, 150);
  };
  const http = createDestinationHttp({
    destination: "crm",
    timeoutMs: 2000,
    connections: 2,
    allowPrivateNetwork: true,
    lookup: slowLookup,
  });
  afterAll(() => http.close());

  it("stops a refused write unsent, with the guard's own error, after DNS and connect", async () => {
    received.length = 0;
    let guardedAt = 0;
    const refusal = new RetryableDeliveryError("not sent: stale check");
    const sending = withSendGuard(
      () => {
        guardedAt = Date.now();
        return refusal;
      },
      () => http.send({ method: "POST", url: `http://localhost:${port}/records/1`, body: "{}" }),
    );
    await expect(sending).rejects.toBe(refusal);
    expect(received).toEqual([]);
    expect(guardedAt).toBeGreaterThanOrEqual(resolvedAt);
  });

  it("lets a write through when the guard allows it, and never holds up reads", async () => {
    received.length = 0;
    const calls: string[] = [];
    await withSendGuard(
      () => {
        calls.push("guard");
        return undefined;
      },
      async () => {
        await http.send({ method: "POST", url: `http://localhost:${port}/records/2`, body: "{}" });
        await http.send({ method: "GET", url: `http://localhost:${port}/records/2` });
      },
    );
    expect(received).toEqual(["POST /records/2", "GET /records/2"]);
    expect(calls).toEqual(["guard"]);
  });

  it("applies only inside the delivery that set it", async () => {
    received.length = 0;
    await withSendGuard(
      () => new RetryableDeliveryError("refused"),
      () => Promise.resolve(),
    );
    await http.send({ method: "PATCH", url: `http://localhost:${port}/records/3`, body: "{}" });
    expect(received).toEqual(["PATCH /records/3"]);
  });
});
