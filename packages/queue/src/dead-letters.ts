import { deadLetterId, DeadLetterEntrySchema, type DeadLetterEntry } from "@handoff-sync/schema";
import type { Queue } from "bullmq";

export const DEAD_LETTER_JOB_NAME = "dead-letter";

/**
 * Adds an entry under its deterministic id, so a crash between dead-lettering and failing the
 * job cannot create a second entry when the job is dead-lettered again.
 */
export async function addDeadLetter(dead: Queue, entry: Omit<DeadLetterEntry, "id" | "v">): Promise<DeadLetterEntry> {
  const id = deadLetterId(entry.key, entry.version);
  const full = DeadLetterEntrySchema.parse({ ...entry, v: 1, id });
  await dead.add(DEAD_LETTER_JOB_NAME, full, { jobId: id, removeOnComplete: false, removeOnFail: false });
  return full;
}

export async function listDeadLetters(dead: Queue, start = 0, end = 99): Promise<DeadLetterEntry[]> {
  const jobs = await dead.getJobs(["waiting", "prioritized", "delayed"], start, end, true);
  return jobs.map((job) => DeadLetterEntrySchema.parse(job.data));
}
