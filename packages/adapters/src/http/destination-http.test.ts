import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { lookup as dnsLookup } from "node:dns";
import { connect as netConnect, type AddressInfo, type LookupFunction } from "node:net";
import { tmpdir } from "node:os";
import type { TLSSocket } from "node:tls";
import { join } from "node:path";
import { DestinationError, RetryableDeliveryError } from "@handoff-sync/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDestinationHttp } from "./destination-http.js";

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl for this run. */
function makeCertificates(): Record<"ca" | "serverKey" | "serverCert" | "clientKey" | "clientCert", string> {
  const dir = mkdtempSync(join(tmpdir(), "handoff-sync-tls-"));
  const run = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=handoff-sync test CA",
  );
  for (const [name, subject, ext] of [
    ["server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"],
    ["client", "/CN=handoff-sync-worker", "extendedKeyUsage=clientAuth"],
  ] as const) {
    run(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject,
    );
    execFileSync("sh", ["-c", `printf '%s' '${ext}' > ${name}.ext`], { cwd: dir });
    run(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
  }
  const read = (file: string): string => readFileSync(join(dir, file), "utf8");
  return {
    ca: read("ca.crt"),
    serverKey: read("server.key"),
    serverCert: read("server.crt"),
    clientKey: read("client.key"),
    clientCert: read("client.crt"),
  };
}

describe("destination HTTP: proxies, custom CAs, client certificates, the private-network guard", () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));
  let certs: ReturnType<typeof makeCertificates>;
  beforeAll(() => {
    certs = makeCertificates();
  });

  it("goes through HTTP_PROXY (absolute-form requests) and around it for NO_PROXY hosts", async () => {
    const target = createHttpServer((_req, res) => res.writeHead(204).end());
    servers.push(target);
    const targetPort = await listen(target);
    const tunnels: string[] = [];
    // A forward proxy: plain-HTTP targets arrive as absolute-form requests, HTTPS ones as CONNECT.
    const proxy = createHttpServer((req, res) => {
      tunnels.push(String(req.url));
      const upstream = httpRequest(
        String(req.url),
        { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    proxy.on("connect", (req, client, head) => {
      tunnels.push(String(req.url));
      const [host, port] = String(req.url).split(":");
      const upstream = netConnect(Number(port), host, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on("error", () => client.destroy());
    });
    servers.push(proxy);
    const proxyPort = await listen(proxy);

    const viaProxy = createDestinationHttp({
      destination: "crm",
      timeoutMs: 2000,
      connections: 2,
      allowPrivateNetwork: true,
      proxy: { httpProxy: `http://127.0.0.1:${proxyPort}` },
    });
    expect(
      (await viaProxy.send({ method: "POST", url: `http://127.0.0.1:${targetPort}/hook`, body: "{}" }))
        .status,
    ).toBe(204);
    expect(tunnels).toEqual([`http://127.0.0.1:${targetPort}/hook`]);
    await viaProxy.close();

    const bypass = createDestinationHttp({
      destination: "crm",
      timeoutMs: 2000,
      connections: 2,
      allowPrivateNetwork: true,
      proxy: { httpProxy: `http://127.0.0.1:${proxyPort}`, noProxy: "localhost,127.0.0.1" },
    });
    expect(
      (await bypass.send({ method: "POST", url: `http://127.0.0.1:${targetPort}/hook`, body: "{}" })).status,
    ).toBe(204);
    expect(tunnels).toHaveLength(1);
    await bypass.close();
  });

  it("trusts a custom CA bundle and presents a client certificate to an mTLS endpoint", async () => {
    const server = createHttpsServer(
      {
        key: certs.serverKey,
        cert: certs.serverCert,
        ca: certs.ca,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ client: peer.subject?.CN }));
      },
    );
    servers.push(server);
    const port = await listen(server);
    const url = `https://127.0.0.1:${port}/api`;

    const mtls = createDestinationHttp({
      destination: "crm",
      timeoutMs: 3000,
      connections: 1,
      allowPrivateNetwork: true,
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    });
    const response = await mtls.send({ method: "GET", url });
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ client: "handoff-sync-worker" });
    await mtls.close();

    const untrusted = createDestinationHttp({
      destination: "crm",
      timeoutMs: 3000,
      connections: 1,
      allowPrivateNetwork: true,
    });
    await expect(untrusted.send({ method: "GET", url })).rejects.toBeInstanceOf(RetryableDeliveryError);
    await untrusted.close();
  });

  it("applies the private-network guard through a proxy too, before anything reaches the proxy", async () => {
    const target = createHttpServer((_req, res) => res.writeHead(204).end());
    servers.push(target);
    const targetPort = await listen(target);
    const seen: string[] = [];
    // A forward proxy that, like a real one, resolves and dials whatever it is asked for; it answers
    // for the public test name itself, which no DNS knows.
    const proxy = createHttpServer((req, res) => {
      seen.push(String(req.url));
      if (new URL(String(req.url)).hostname === "crm.example.com") {
        res.writeHead(204).end();
        return;
      }
      const upstream = httpRequest(
        String(req.url),
        { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    proxy.on("connect", (req, client) => {
      seen.push(`CONNECT ${String(req.url)}`);
      client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
    });
    servers.push(proxy);
    const proxyUrl = `http://127.0.0.1:${await listen(proxy)}`;
    // Names the worker's resolver would answer: one internal, one public.
    const names: Record<string, string> = {
      "billing.internal": "10.1.2.3",
      "crm.example.com": "93.184.215.14",
    };
    const lookup: LookupFunction = (hostname, options, callback) => {
      const address = names[hostname];
      if (address === undefined) dnsLookup(hostname, options, callback);
      else if (options.all === true) callback(null, [{ address, family: 4 }]);
      else callback(null, address, 4);
    };
    const through = (allowPrivateNetwork: boolean) =>
      createDestinationHttp({
        destination: "crm",
        timeoutMs: 2000,
        connections: 1,
        allowPrivateNetwork,
        lookup,
        proxy: { httpProxy: proxyUrl, httpsProxy: proxyUrl },
      });

    const guarded = through(false);
    for (const url of [
      `http://localhost:${targetPort}/hook`,
      `http://billing.internal:${targetPort}/hook`,
      `https://localhost:${targetPort}/hook`,
    ]) {
      const refused = await guarded.send({ method: "POST", url, body: "{}" }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused, url).toBeInstanceOf(DestinationError);
      expect((refused as DestinationError).retryable).toBe(false);
      expect((refused as DestinationError).message).toMatch(/private or loopback address/);
    }
    expect(seen).toEqual([]);
    // A public host still goes through the proxy.
    expect(
      (await guarded.send({ method: "POST", url: "http://crm.example.com/hook", body: "{}" })).status,
    ).toBe(204);
    expect(seen).toEqual(["http://crm.example.com/hook"]);
    await guarded.close();

    // allow_private_network is the explicit allowance: then the proxy is asked.
    const allowed = through(true);
    expect(
      (await allowed.send({ method: "POST", url: `http://localhost:${targetPort}/hook`, body: "{}" })).status,
    ).toBe(204);
    expect(seen).toEqual(["http://crm.example.com/hook", `http://localhost:${targetPort}/hook`]);
    await allowed.close();
  });

  it("refuses loopback and private addresses unless the destination allows them", async () => {
    const guarded = createDestinationHttp({
      destination: "crm",
      timeoutMs: 1000,
      connections: 1,
      allowPrivateNetwork: false,
    });
    await expect(guarded.send({ method: "GET", url: "http://127.0.0.1:9/" })).rejects.toBeInstanceOf(
      DestinationError,
    );
    await expect(guarded.send({ method: "GET", url: "http://localhost:9/" })).rejects.toBeInstanceOf(
      DestinationError,
    );
    await expect(
      guarded.send({ method: "GET", url: "http://169.254.169.254/latest/meta-data" }),
    ).rejects.toBeInstanceOf(DestinationError);
    await guarded.close();
  });
});
