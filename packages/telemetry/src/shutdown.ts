import type { Logger } from "pino";

export interface ShutdownOptions {
  readonly log: Logger;
  /** Hard limit; Kubernetes' default grace period is 30 s, so the default leaves room to exit. */
  readonly timeoutMs?: number;
  readonly signals?: readonly NodeJS.Signals[];
}

/**
 * Runs `stop` once on the first SIGTERM/SIGINT and exits 0 when it resolves, 1 when it fails or
 * overruns. A second signal while stopping is ignored: Kubernetes may repeat it.
 */
export function onShutdown(stop: () => Promise<void>, options: ShutdownOptions): void {
  const timeoutMs = options.timeoutMs ?? 28_000;
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    options.log.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      options.log.error({ timeoutMs }, "shutdown timed out");
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => {
        options.log.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        options.log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  for (const signal of options.signals ?? ["SIGTERM", "SIGINT"]) process.on(signal, handler);
}

/** A crash is logged and ends the process non-zero, so the orchestrator restarts it. */
export function exitOnFatal(log: Logger): void {
  process.on("unhandledRejection", (reason) => {
    log.fatal({ err: reason }, "unhandled rejection");
    process.exit(1);
  });
  process.on("uncaughtException", (error) => {
    log.fatal({ err: error }, "uncaught exception");
    process.exit(1);
  });
}
