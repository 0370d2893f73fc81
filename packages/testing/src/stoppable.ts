import type { ChildProcess } from "node:child_process";

export interface Stoppable {
  /** Resolves with the exit code once the process ended. */
  readonly exited: Promise<number | null>;
  readonly isRunning: () => boolean;
  /** SIGTERM, then SIGKILL after `killAfterMs` when given; waits for the exit; a no-op once ended. */
  readonly stop: () => Promise<void>;
}

/** The lifecycle every server a test starts needs: whether it still runs, and a stop that waits. */
export function stoppable(child: ChildProcess, options: { killAfterMs?: number } = {}): Stoppable {
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let running = true;
  void exited.then(() => {
    running = false;
  });
  return {
    exited,
    isRunning: () => running,
    stop: async () => {
      if (!running) return;
      child.kill("SIGTERM");
      const timer =
        options.killAfterMs === undefined
          ? undefined
          : setTimeout(() => child.kill("SIGKILL"), options.killAfterMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
