import { AsyncLocalStorage } from "node:async_hooks";
import type { IncomingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";

/**
 * Checked synchronously as a write's bytes are about to go out, after DNS and connect. Nothing can
 * run between it and the write, so a worker that stalled after its last asynchronous check (past
 * its queue lock, while another worker took the job over) cannot send what it prepared before the
 * stall. Returns the error that stops the request unsent.
 */
export type SendGuard = () => Error | undefined;

// Scoped to one delivery, like its traceparent: every request the adapter makes is covered
// without each adapter threading the guard through its helpers.
const deliverySendGuard = new AsyncLocalStorage<SendGuard>();

/** Runs `fn` so that every request inside it that is not a read passes `guard` as it is sent. */
export function withSendGuard<T>(guard: SendGuard | undefined, fn: () => Promise<T>): Promise<T> {
  return guard === undefined ? fn() : deliverySendGuard.run(guard, fn);
}

/** The dispatcher one request goes out on: the delivery's guard applies to every method but GET and HEAD. */
export function guardedDispatcher(dispatcher: Dispatcher, method: string): Dispatcher {
  const guard = deliverySendGuard.getStore();
  if (guard === undefined || method === "GET" || method === "HEAD") return dispatcher;
  return dispatcher.compose(
    (dispatch) => (options, handler) => dispatch(options, new GuardedHandler(handler, guard)),
  );
}

class GuardedHandler implements Dispatcher.DispatchHandler {
  constructor(
    private readonly inner: Dispatcher.DispatchHandler,
    private readonly guard: SendGuard,
  ) {}

  // undici calls this on the connection, right before it writes the request.
  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.inner.onRequestStart?.(controller, context);
    if (controller.aborted) return;
    const refused = this.guard();
    if (refused !== undefined) controller.abort(refused);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    this.inner.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    this.inner.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.inner.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.inner.onResponseError?.(controller, error);
  }

  onResponseStarted(): void {
    this.inner.onResponseStarted?.();
  }

  onBodySent(chunk: Buffer): void {
    this.inner.onBodySent?.(chunk);
  }

  onRequestSent(): void {
    this.inner.onRequestSent?.();
  }
}
