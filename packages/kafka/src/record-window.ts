/** A record as the window needs it: its offset is resolved after it. */
export interface WindowRecord {
  readonly offset: string;
}

export interface WindowSettings<M extends WindowRecord> {
  /** Records of one partition handed over at once; 1 handles them strictly one by one. */
  readonly limit: number;
  /**
   * Handles a group of records in offset order; resolves only when every one of them is durably
   * enqueued or dead-lettered. A throw means none of the group may be resolved.
   */
  readonly handleGroup: (records: readonly M[]) => Promise<void>;
  /** Called in offset order for each record of a group once the whole group completed. */
  readonly resolve: (record: M) => void;
  /** Called after each group of records, e.g. to heartbeat. */
  readonly afterGroup?: (last: M) => Promise<void>;
  /** Checked before each group: a stopping consumer or a revoked partition starts nothing new. */
  readonly shouldStop: () => boolean;
}

/**
 * Hands a partition's records over in groups of `limit`, so a group's Redis round trips are shared
 * (pipelined applies, one bulk enqueue per destination), and resolves a group's offsets only when
 * the whole group completed. On a failure nothing of the group is resolved and the error is
 * rethrown, so the consumer restarts at the group's first record; its records that had completed
 * are handled again, which apply and enqueue make harmless. The group size bounds the records
 * (and their decoded events and jobs) held at once, and the work repeated after a failure.
 */
export async function handleInGroups<M extends WindowRecord>(
  records: readonly M[],
  settings: WindowSettings<M>,
): Promise<void> {
  const limit = Math.max(1, settings.limit);
  for (let start = 0; start < records.length; start += limit) {
    if (settings.shouldStop()) return;
    const group = records.slice(start, start + limit);
    await settings.handleGroup(group);
    for (const record of group) settings.resolve(record);
    const last = group.at(-1);
    if (last !== undefined) await settings.afterGroup?.(last);
  }
}
