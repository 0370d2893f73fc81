import type { Enricher, EnrichmentSettings } from "@handoff-sync/adapters";
import type { HandoffSnapshot } from "@handoff-sync/schema";

export interface EnrichmentHook {
  /** The delivery worker's `enrich`: the current enricher, or the snapshot unchanged when none is configured. */
  enrich(snapshot: HandoffSnapshot, signal: AbortSignal): Promise<HandoffSnapshot>;
  /** Swaps in a reloaded `source.enrichment`; the previous enricher closes once its requests finish. */
  configure(settings: EnrichmentSettings | undefined): void;
  close(): Promise<void>;
}

interface Current {
  readonly enricher: Enricher;
  readonly fingerprint: string;
  inflight: number;
  retired: boolean;
}

export function createEnrichmentHook(
  make: (settings: EnrichmentSettings) => Enricher,
  log: { error(fields: object, message: string): void },
): EnrichmentHook {
  let current: Current | undefined;
  const closeQuietly = (entry: Current): void => {
    entry.enricher
      .close()
      .catch((error: unknown) => log.error({ err: error }, "closing a replaced enricher failed"));
  };
  return {
    async enrich(snapshot, signal) {
      const entry = current;
      if (entry === undefined) return snapshot;
      entry.inflight++;
      try {
        return await entry.enricher.enrich(snapshot, signal);
      } finally {
        entry.inflight--;
        if (entry.retired && entry.inflight === 0) closeQuietly(entry);
      }
    },
    configure(settings) {
      const fingerprint = JSON.stringify(settings ?? null);
      if ((current?.fingerprint ?? "null") === fingerprint) return;
      const previous = current;
      current =
        settings === undefined
          ? undefined
          : { enricher: make(settings), fingerprint, inflight: 0, retired: false };
      if (previous !== undefined) {
        previous.retired = true;
        if (previous.inflight === 0) closeQuietly(previous);
      }
    },
    async close() {
      const entry = current;
      current = undefined;
      await entry?.enricher.close();
    },
  };
}
