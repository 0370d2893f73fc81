import {
  deadLetterId,
  DeadLetterEntrySchema,
  type DeadLetterEntry,
  type DeadLetterReason,
} from "@handoff-sync/schema";
import type { Job, Queue } from "bullmq";

export const DEAD_LETTER_JOB_NAME = "dead-letter";

/**
 * Adds an entry under its deterministic id, so a crash between dead-lettering and failing the
 * job cannot create a second entry when the job is dead-lettered again.
 */
export async function addDeadLetter(
  dead: Queue,
  entry: Omit<DeadLetterEntry, "id" | "v">,
): Promise<DeadLetterEntry> {
  const id = deadLetterId(entry.key, entry.version);
  const full = DeadLetterEntrySchema.parse({ ...entry, v: 1, id });
  await dead.add(DEAD_LETTER_JOB_NAME, full, { jobId: id, removeOnComplete: false, removeOnFail: false });
  return full;
}

export interface DeadLetterFilter {
  readonly reason?: DeadLetterReason;
  /** Dead-lettered at or after / before these instants (ISO 8601). */
  readonly since?: string;
  readonly until?: string;
  readonly key?: string;
}

export function matchesFilter(entry: DeadLetterEntry, filter: DeadLetterFilter): boolean {
  if (filter.reason !== undefined && entry.reason !== filter.reason) return false;
  if (filter.key !== undefined && entry.key !== filter.key) return false;
  const at = Date.parse(entry.dead_lettered_at);
  if (filter.since !== undefined && at < Date.parse(filter.since)) return false;
  if (filter.until !== undefined && at >= Date.parse(filter.until)) return false;
  return true;
}

const ENTRY_STATES = ["waiting", "prioritized", "delayed"] as const;

/** Entries are jobs of a queue no worker consumes, so they sit in `waiting` until removed. */
async function* entryJobs(dead: Queue, pageSize = 500): AsyncGenerator<Job> {
  for (let start = 0; ; start += pageSize) {
    const jobs = await dead.getJobs([...ENTRY_STATES], start, start + pageSize - 1, true);
    for (const job of jobs) yield job;
    if (jobs.length < pageSize) return;
  }
}

/** Entries matching the filter, oldest first, with paging. */
export async function listDeadLetters(
  dead: Queue,
  filter: DeadLetterFilter = {},
  page: { offset?: number; limit?: number } = {},
): Promise<{ entries: DeadLetterEntry[]; total: number }> {
  const matching: DeadLetterEntry[] = [];
  for await (const job of entryJobs(dead)) {
    const parsed = DeadLetterEntrySchema.safeParse(job.data);
    if (parsed.success && matchesFilter(parsed.data, filter)) matching.push(parsed.data);
  }
  matching.sort((a, b) => a.dead_lettered_at.localeCompare(b.dead_lettered_at) || a.id.localeCompare(b.id));
  const offset = page.offset ?? 0;
  return { entries: matching.slice(offset, offset + (page.limit ?? 100)), total: matching.length };
}

export async function getDeadLetter(dead: Queue, id: string): Promise<DeadLetterEntry | undefined> {
  const job = await dead.getJob(id);
  if (!job) return undefined;
  const parsed = DeadLetterEntrySchema.safeParse(job.data);
  return parsed.success ? parsed.data : undefined;
}

/** Removes an entry; true when it existed. */
export async function removeDeadLetter(dead: Queue, id: string): Promise<boolean> {
  return (await dead.remove(id)) === 1;
}

export async function countDeadLetters(dead: Queue): Promise<number> {
  return dead.getJobCountByTypes(...ENTRY_STATES);
}
