/** The abort signal of one CRM request: the delivery's own signal or the request's timeout. */
export interface RequestDeadline {
  readonly signal: AbortSignal;
  /** True once the timeout, not the delivery's signal, aborted the request. */
  timedOut(): boolean;
  /** Clears the timer and the listener; call when the request and its body are done. */
  dispose(): void;
}

/**
 * One controller, one timer and one listener per request. `AbortSignal.timeout` plus
 * `AbortSignal.any` did the same with a weakly tracked composite signal and a DOMException per
 * request, which showed in the worker's profile (docs/performance.md).
 */
export function requestDeadline(timeoutMs: number, outer?: AbortSignal): RequestDeadline {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, "TimeoutError"));
  }, timeoutMs);
  // A pending request keeps the process alive by its socket, not by this timer.
  timer.unref();
  const follow = (): void => controller.abort(outer?.reason);
  if (outer?.aborted === true) follow();
  else outer?.addEventListener("abort", follow, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose() {
      clearTimeout(timer);
      outer?.removeEventListener("abort", follow);
    },
  };
}
