/** A record as the window needs it: its key orders it, its offset is resolved after it. */
export interface WindowRecord {
  readonly key: Buffer | null;
}

export interface WindowSettings<M extends WindowRecord> {
  /** Records of one partition in flight at once; 1 handles them strictly one by one. */
  readonly limit: number;
  readonly handle: (record: M) => Promise<void>;
  /** Called in offset order for each record once it and every record before it completed. */
  readonly resolve: (record: M) => void;
  /** Called after each group of records, e.g. to heartbeat. */
  readonly afterGroup?: (last: M) => Promise<void>;
  /** Checked before each group: a stopping consumer or a revoked partition starts nothing new. */
  readonly shouldStop: () => boolean;
}

/**
 * Handles a partition's records in groups of `limit`, all of a group at once so their Redis round
 * trips overlap, while keeping what the guarantees need: records with the same key run one after
 * another in offset order (the next starts only when the previous succeeded), and an offset is
 * resolved only when its record and every earlier one completed. On a failure the completed
 * prefix is resolved and the error rethrown, so the consumer restarts at the failed record;
 * later records that had completed are handled again, which apply and enqueue make harmless.
 */
export async function handleInWindow<M extends WindowRecord>(
  records: readonly M[],
  settings: WindowSettings<M>,
): Promise<void> {
  const limit = Math.max(1, settings.limit);
  for (let start = 0; start < records.length; start += limit) {
    if (settings.shouldStop()) return;
    const group = records.slice(start, start + limit);
    const tails = new Map<string, Promise<void>>();
    const runs = group.map((record) => {
      // Keyless records carry no order of their own: Kafka spreads them over partitions.
      const key = record.key === null ? undefined : record.key.toString("latin1");
      const previous = key === undefined ? undefined : tails.get(key);
      const run =
        previous === undefined ? settings.handle(record) : previous.then(() => settings.handle(record));
      if (key !== undefined) tails.set(key, run);
      return run;
    });
    const settled = await Promise.allSettled(runs);
    let last: M | undefined;
    for (const [index, outcome] of settled.entries()) {
      const record = group[index];
      if (record === undefined) continue;
      if (outcome.status === "rejected") throw outcome.reason;
      settings.resolve(record);
      last = record;
    }
    if (last !== undefined) await settings.afterGroup?.(last);
  }
}
