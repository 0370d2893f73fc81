import type { Plan } from "./plan.js";

/** A write a CRM applied, as its own log has it. */
export interface CrmWrite {
  readonly handoff: string;
  readonly recordId: string;
  readonly version: number | undefined;
  readonly state: string | undefined;
  readonly created: boolean;
}

export interface CrmView {
  readonly name: string;
  readonly writes: readonly CrmWrite[];
  /** Records the CRM holds per handoff key (the CRM's own lookup, e.g. by external id). */
  readonly recordsFor: (handoff: string) => readonly { recordId: string; version: number | undefined; state: string | undefined }[];
}

export interface Verdict {
  readonly events: number;
  readonly delivered: number;
  readonly superseded: number;
  readonly deadLettered: number;
  readonly rejected: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly backward: number;
  readonly problems: readonly string[];
}

/** What each handoff must end as: its latest event by occurred_at (ties by event id). */
export function expectedFinal(plan: Plan): Map<string, { state: string; version: number }> {
  const byHandoff = new Map<string, Map<string, { state: string; at: string }>>();
  for (const event of plan.events) {
    const events = byHandoff.get(event.handoff) ?? new Map<string, { state: string; at: string }>();
    events.set(event.eventId, { state: event.state, at: event.occurredAt });
    byHandoff.set(event.handoff, events);
  }
  const final = new Map<string, { state: string; version: number }>();
  for (const [handoff, events] of byHandoff) {
    const latest = [...events.entries()].sort(([ia, a], [ib, b]) => a.at.localeCompare(b.at) || ia.localeCompare(ib)).at(-1);
    // Every distinct event moves the handoff one version on; duplicates do not.
    if (latest) final.set(handoff, { state: latest[1].state, version: events.size });
  }
  return final;
}

/**
 * Judges a run: every handoff's latest state in every CRM, no record created twice, no write older
 * than what the record already had, and every event accounted for.
 */
export function reconcile(plan: Plan, crms: readonly CrmView[], deadLetteredHandoffs: ReadonlySet<string>, rejectedCount: number): Verdict {
  const final = expectedFinal(plan);
  const problems: string[] = [];
  let duplicates = 0;
  let backward = 0;
  const reached = new Set<string>();

  for (const crm of crms) {
    const lastVersion = new Map<string, number>();
    for (const write of crm.writes) {
      if (write.version === undefined) continue;
      const previous = lastVersion.get(write.recordId);
      if (previous !== undefined && write.version < previous) {
        backward++;
        problems.push(`${crm.name}: record ${write.recordId} of ${write.handoff} written with v${write.version} after v${previous}`);
      }
      lastVersion.set(write.recordId, Math.max(previous ?? 0, write.version));
    }
  }
  for (const [handoff, expected] of final) {
    let everywhere = true;
    for (const crm of crms) {
      const records = crm.recordsFor(handoff);
      if (records.length > 1) {
        duplicates += records.length - 1;
        problems.push(`${crm.name}: ${records.length} records for ${handoff}`);
      }
      const newest = records.reduce<number>((max, r) => Math.max(max, r.version ?? 0), 0);
      const record = records.find((r) => r.version === newest);
      if (!record || newest !== expected.version || record.state !== expected.state) {
        everywhere = false;
        if (!deadLetteredHandoffs.has(handoff)) {
          problems.push(`${crm.name}: ${handoff} ends at v${newest} ${record?.state ?? "(none)"}, expected v${expected.version} ${expected.state}`);
        }
      }
    }
    if (everywhere) reached.add(handoff);
  }

  let delivered = 0;
  let superseded = 0;
  let deadLettered = 0;
  let lost = 0;
  const latestSeen = new Set<string>();
  for (const event of plan.events) {
    if (reached.has(event.handoff)) {
      const expected = final.get(event.handoff);
      const isLatest = expected !== undefined && event.state === expected.state && !latestSeen.has(event.handoff) && isLatestEvent(plan, event.eventId);
      if (isLatest) {
        latestSeen.add(event.handoff);
        delivered++;
      } else superseded++;
    } else if (deadLetteredHandoffs.has(event.handoff)) deadLettered++;
    else lost++;
  }
  const rejected = Math.min(rejectedCount, plan.invalid.length);
  lost += plan.invalid.length - rejected;
  return { events: plan.events.length + plan.invalid.length, delivered, superseded, deadLettered, rejected, lost, duplicates, backward, problems };
}

function isLatestEvent(plan: Plan, eventId: string): boolean {
  const event = plan.events.find((e) => e.eventId === eventId);
  if (!event) return false;
  return !plan.events.some((e) => e.handoff === event.handoff && (e.occurredAt > event.occurredAt || (e.occurredAt === event.occurredAt && e.eventId > eventId)));
}

export function verdictLine(scenario: string, verdict: Verdict): string {
  return `reconciled: scenario=${scenario} events=${verdict.events} delivered=${verdict.delivered} superseded=${verdict.superseded} dead_lettered=${verdict.deadLettered} rejected=${verdict.rejected} lost=${verdict.lost} duplicates=${verdict.duplicates} backward=${verdict.backward}`;
}
