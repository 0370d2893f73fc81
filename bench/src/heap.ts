/** Heap of one service while a phase ran, from its own /metrics (prom-client's default metrics). */
export interface HeapSample {
  /** Largest V8 heap in use seen, MiB. */
  readonly usedMiB: number;
  /** Largest V8 heap reserved seen (used plus garbage not collected yet), MiB. */
  readonly totalMiB: number;
}

/** Reads `<prefix>nodejs_heap_size_{used,total}_bytes` from a Prometheus text exposition. */
export function parseHeap(metrics: string): { used: number; total: number } | undefined {
  const read = (name: string): number | undefined => {
    const match = new RegExp(`^\\w*nodejs_heap_size_${name}_bytes(?:\\{[^}]*\\})? ([\\d.e+]+)$`, "m").exec(
      metrics,
    );
    return match?.[1] === undefined ? undefined : Number(match[1]);
  };
  const used = read("used");
  const total = read("total");
  return used === undefined || total === undefined ? undefined : { used, total };
}

/**
 * Polls a service's /metrics until `stop` is called and keeps the largest heap seen. A scrape that
 * fails (the service busy past the poll) is skipped: the peak is a lower bound, which the report says.
 */
export function watchHeap(port: number, intervalMs = 250): { stop: () => Promise<HeapSample> } {
  let used = 0;
  let total = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
          signal: AbortSignal.timeout(2000),
        });
        const heap = parseHeap(await response.text());
        if (heap !== undefined) {
          used = Math.max(used, heap.used);
          total = Math.max(total, heap.total);
        }
      } catch {
        // Skipped: see above.
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { usedMiB: used / 2 ** 20, totalMiB: total / 2 ** 20 };
    },
  };
}
