import { isDeepStrictEqual } from "node:util";
import type { Plan, PlannedEvent } from "./plan.js";

/** A write a CRM applied, as its own log has it. */
export interface CrmWrite {
  readonly handoff: string;
  readonly recordId: string;
  readonly version: number | undefined;
  readonly state: string | undefined;
  readonly created: boolean;
}

export interface CrmRecord {
  readonly recordId: string;
  readonly version: number | undefined;
  readonly state: string | undefined;
  /** The handoff's data as the CRM holds it, for CRMs whose payload carries it. */
  readonly data?: Readonly<Record<string, unknown>> | undefined;
}

export interface CrmView {
  readonly name: string;
  readonly writes: readonly CrmWrite[];
  /** Records the CRM holds under one handoff key (the CRM's own lookup, e.g. by external id). */
  readonly recordsFor: (key: string) => readonly CrmRecord[];
}

/** A dead letter still in a dead-letter queue when the run is judged. */
export interface DeadLetterEvidence {
  readonly destination: string;
  readonly key: string;
  readonly version: number;
}

/** A record read back from the rejected-events topic. */
export interface RejectionEvidence {
  readonly value: string;
  readonly sourcePartition: string;
  readonly sourceOffset: string;
}

export interface Evidence {
  readonly deadLetters: readonly DeadLetterEvidence[];
  readonly rejected: readonly RejectionEvidence[];
}

export interface JudgeOptions {
  /**
   * Per handoff, the newest version a CRM held before it came back from a past lifetime: its
   * versions must go on above it, and its data is this lifetime's only.
   */
  readonly versionAbove?: ReadonlyMap<string, number>;
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
  readonly wrongData: number;
  readonly problems: readonly string[];
}

export interface ExpectedHandoff {
  readonly handoff: string;
  readonly keys: readonly string[];
  readonly state: string;
  /** Distinct events: each moves the handoff one version on, duplicates do not. */
  readonly versionsAdded: number;
  readonly latestEventId: string;
  /** The producer's merge: each event's fields over the earlier ones', in occurred_at then event id order. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** History order as the producer understands it: instant, then event id by UTF-16 code units. */
function byHistoryOrder(a: PlannedEvent, b: PlannedEvent): number {
  if (a.occurredAt !== b.occurredAt) return a.occurredAt < b.occurredAt ? -1 : 1;
  if (a.eventId === b.eventId) return 0;
  return a.eventId < b.eventId ? -1 : 1;
}

/** What each handoff must end as: its latest event by occurred_at (ties by event id), and the merge of all its data. */
export function expectedFinal(plan: Plan): Map<string, ExpectedHandoff> {
  const byHandoff = new Map<string, Map<string, PlannedEvent>>();
  for (const event of plan.events) {
    const events = byHandoff.get(event.handoff) ?? new Map<string, PlannedEvent>();
    events.set(event.eventId, event);
    byHandoff.set(event.handoff, events);
  }
  const final = new Map<string, ExpectedHandoff>();
  for (const planned of plan.handoffs) {
    const events = [...(byHandoff.get(planned.handoff)?.values() ?? [])].sort(byHistoryOrder);
    const latest = events.at(-1);
    if (!latest) continue;
    const data = events.reduce<Record<string, unknown>>(
      (merged, event) => ({ ...merged, ...event.data }),
      {},
    );
    final.set(planned.handoff, {
      handoff: planned.handoff,
      keys: planned.keys,
      state: latest.state,
      versionsAdded: events.length,
      latestEventId: latest.eventId,
      data,
    });
  }
  return final;
}

type Outcome = "reached" | "excused" | "missing";

/**
 * Judges a run: every handoff's latest state and data in every CRM under exactly one record, no
 * write older than what the record already had, and every event and invalid record accounted for.
 * A handoff a CRM lacks is excused only by a dead letter for that destination that holds its
 * final version: the dead letter is then the last word, and it waits for an operator.
 */
export function reconcile(
  plan: Plan,
  crms: readonly CrmView[],
  evidence: Evidence,
  options: JudgeOptions = {},
): Verdict {
  const final = expectedFinal(plan);
  const problems: string[] = [];
  let duplicates = 0;
  let backward = 0;
  let wrongData = 0;

  for (const crm of crms) {
    const lastVersion = new Map<string, number>();
    for (const write of crm.writes) {
      if (write.version === undefined) continue;
      const previous = lastVersion.get(write.recordId);
      if (previous !== undefined && write.version < previous) {
        backward++;
        problems.push(
          `${crm.name}: record ${write.recordId} of ${write.handoff} written with v${write.version} after v${previous}`,
        );
      }
      lastVersion.set(write.recordId, Math.max(previous ?? 0, write.version));
    }
  }

  const outcomes = new Map<string, Outcome>();
  for (const [handoff, expected] of final) {
    const floor = options.versionAbove?.get(handoff);
    let outcome: Outcome = "reached";
    for (const crm of crms) {
      const records = expected.keys.flatMap((key) => crm.recordsFor(key).map((record) => ({ key, record })));
      if (records.length > 1) {
        duplicates += records.length - 1;
        problems.push(
          `${crm.name}: ${records.length} records for ${handoff} (keys ${records.map((r) => r.key).join(", ")})`,
        );
      }
      const newest = records.reduce<(typeof records)[number] | undefined>(
        (best, r) => ((r.record.version ?? 0) > (best?.record.version ?? -1) ? r : best),
        undefined,
      );
      const version = newest?.record.version ?? 0;
      const versionRight = floor === undefined ? version === expected.versionsAdded : version > floor;
      const reached = newest !== undefined && versionRight && newest.record.state === expected.state;
      if (
        reached &&
        newest.record.data !== undefined &&
        !isDeepStrictEqual(newest.record.data, expected.data)
      ) {
        wrongData++;
        problems.push(
          `${crm.name}: ${handoff} has data ${JSON.stringify(newest.record.data)}, expected ${JSON.stringify(expected.data)}`,
        );
      }
      if (reached) continue;
      const wanted = floor === undefined ? expected.versionsAdded : floor + 1;
      const lastWord = evidence.deadLetters.some(
        (d) =>
          d.destination === crm.name &&
          expected.keys.includes(d.key) &&
          d.version >= wanted &&
          d.version >= version,
      );
      if (lastWord) {
        if (outcome === "reached") outcome = "excused";
        continue;
      }
      outcome = "missing";
      problems.push(
        `${crm.name}: ${handoff} ends at v${version} ${newest?.record.state ?? "(none)"}, expected ${floor === undefined ? `v${expected.versionsAdded}` : `above v${floor}`} ${expected.state}`,
      );
    }
    outcomes.set(handoff, outcome);
  }

  let delivered = 0;
  let superseded = 0;
  let deadLettered = 0;
  let lost = 0;
  const counted = new Set<string>();
  for (const event of plan.events) {
    const outcome = outcomes.get(event.handoff) ?? "missing";
    const expected = final.get(event.handoff);
    if (outcome === "missing") lost++;
    else if (outcome === "excused") deadLettered++;
    else if (expected?.latestEventId === event.eventId && !counted.has(event.eventId)) {
      counted.add(event.eventId);
      delivered++;
    } else superseded++;
  }

  // Each invalid record is judged by its own source offset: a record rejected twice (a redelivery
  // after a crash) cannot stand in for one that never reached the topic.
  const offsetsByValue = new Map<string, Set<string>>();
  for (const rejection of evidence.rejected) {
    const offsets = offsetsByValue.get(rejection.value) ?? new Set<string>();
    offsets.add(`${rejection.sourcePartition}/${rejection.sourceOffset}`);
    offsetsByValue.set(rejection.value, offsets);
  }
  const sentInvalid = new Map<string, number>();
  for (const value of plan.invalid) sentInvalid.set(value, (sentInvalid.get(value) ?? 0) + 1);
  let rejected = 0;
  for (const [value, sent] of sentInvalid) {
    const found = Math.min(sent, offsetsByValue.get(value)?.size ?? 0);
    rejected += found;
    if (found < sent) {
      lost += sent - found;
      problems.push(
        `invalid record ${value.slice(0, 60)} sent ${sent} time(s), rejected from ${found} offset(s)`,
      );
    }
  }
  const validPayloads = new Set(plan.events.map((e) => e.payload));
  for (const rejection of evidence.rejected) {
    if (!validPayloads.has(rejection.value)) continue;
    lost++;
    problems.push(`a valid event was rejected: ${rejection.value.slice(0, 80)}`);
  }
  return {
    events: plan.events.length + plan.invalid.length,
    delivered,
    superseded,
    deadLettered,
    rejected,
    lost,
    duplicates,
    backward,
    wrongData,
    problems,
  };
}

export function verdictLine(scenario: string, verdict: Verdict): string {
  return `reconciled: scenario=${scenario} events=${verdict.events} delivered=${verdict.delivered} superseded=${verdict.superseded} dead_lettered=${verdict.deadLettered} rejected=${verdict.rejected} lost=${verdict.lost} duplicates=${verdict.duplicates} backward=${verdict.backward} wrong_data=${verdict.wrongData}`;
}
