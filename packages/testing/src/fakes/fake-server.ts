import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { FaultInjector, type Fault } from "./faults.js";

/** One write a fake CRM applied, as the CRM itself would record it: the oracle for tests. */
export interface AppliedWrite {
  readonly seq: number;
  readonly at: string;
  readonly operation: "create" | "update" | "delete";
  readonly object: string;
  readonly recordId: string;
  /** The external id / idempotency key / correlation id the write carried, where there is one. */
  readonly externalId?: string;
  /** The handoff version the write carried, when the fields say so. */
  readonly version?: number;
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage["headers"];
  readonly rawBody: string;
  /** Parsed JSON body, or form fields for `application/x-www-form-urlencoded`, or undefined. */
  readonly body: unknown;
  /** The order the request arrived in, before a fault delayed or held it: the order it was sent in. */
  readonly arrival: number;
}

export interface FakeResponse {
  readonly status: number;
  readonly body?: unknown;
  /** Sent as is when the body is a string: some CRMs answer errors in text/plain. */
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface FakeRequestSummary {
  readonly method: string;
  readonly path: string;
  readonly at: number;
  /** The W3C trace context header the client sent, if any. */
  readonly traceparent?: string;
}

/** A CRM's behaviour: answers one request, recording applied writes through `record`. */
export type FakeHandler = (request: FakeRequest) => FakeResponse | Promise<FakeResponse>;

export interface FakeServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly faults: FaultInjector;
  /** Every request received, in arrival order (method, path and any `traceparent`), for assertions. */
  readonly requests: FakeRequestSummary[];
  close(): Promise<void>;
}

function parseBody(raw: string, contentType: string | undefined): unknown {
  if (raw === "") return undefined;
  if (contentType?.includes("application/x-www-form-urlencoded"))
    return Object.fromEntries(new URLSearchParams(raw));
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, response: FakeResponse): void {
  const isText = typeof response.body === "string";
  const payload =
    response.body === undefined ? "" : isText ? String(response.body) : JSON.stringify(response.body);
  res.writeHead(response.status, {
    ...(payload === ""
      ? {}
      : {
          "content-type":
            response.contentType ??
            (isText ? "text/plain; charset=utf-8" : "application/json; charset=utf-8"),
        }),
    "content-length": Buffer.byteLength(payload),
    ...response.headers,
  });
  res.end(payload);
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * An HTTP server on 127.0.0.1 that answers with a CRM's behaviour and plays injected faults.
 * `after_commit`, `drop_after_commit` and `hold` let the handler apply the write first.
 */
export async function startFakeServer(
  handler: FakeHandler,
  options: { random?: () => number } = {},
): Promise<FakeServer> {
  const faults = new FaultInjector(options.random);
  const requests: FakeRequestSummary[] = [];
  let arrivals = 0;
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://fake");
      const method = req.method ?? "GET";
      const rawBody = await readAll(req);
      const arrival = ++arrivals;
      const traceparent = req.headers.traceparent;
      requests.push({
        method,
        path: url.pathname,
        at: Date.now(),
        ...(typeof traceparent === "string" ? { traceparent } : {}),
      });
      const request: FakeRequest = {
        method,
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        rawBody,
        body: parseBody(rawBody, req.headers["content-type"]),
        arrival,
      };
      const fault: Fault | undefined = faults.pick({ method, path: url.pathname });
      if (fault?.kind === "status") {
        send(res, {
          status: fault.status,
          ...(fault.body !== undefined ? { body: fault.body } : {}),
          ...(fault.contentType ? { contentType: fault.contentType } : {}),
          ...(fault.headers ? { headers: fault.headers } : {}),
        });
        return;
      }
      if (fault?.kind === "hold") await faults.hold({ method, path: url.pathname });
      if (fault?.kind === "delay") await new Promise((resolve) => setTimeout(resolve, fault.ms));
      const response = await handler(request);
      if (fault?.kind === "after_commit") {
        send(res, { status: fault.status, body: fault.body ?? "upstream error after commit" });
        return;
      }
      if (fault?.kind === "delay_after_commit") await new Promise((resolve) => setTimeout(resolve, fault.ms));
      if (fault?.kind === "drop_after_commit") {
        req.socket.destroy();
        return;
      }
      // The client may have given up while we were slow or held; writing then is harmless.
      if (!res.destroyed) send(res, response);
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, { status: 500, body: { error: String(error) } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    faults,
    requests,
    close: () =>
      new Promise((resolve) => {
        faults.releaseAll();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An append-only log of applied writes with increasing sequence numbers. */
export class WriteLog {
  private readonly entries: AppliedWrite[] = [];

  record(write: Omit<AppliedWrite, "seq" | "at">): AppliedWrite {
    const entry: AppliedWrite = { ...write, seq: this.entries.length + 1, at: new Date().toISOString() };
    this.entries.push(entry);
    return entry;
  }

  all(): readonly AppliedWrite[] {
    return [...this.entries];
  }
}
