import type { Logger } from "@handoff-sync/telemetry";
import type { DestinationState, ParkRecord } from "./destination-state.js";
import type { DestinationQueue } from "./delivery-queues.js";

/**
 * Parks a destination: pauses only its queue (jobs stay, nothing is dead-lettered) and records
 * why and what the CRM admin must fix. Idempotent: parking a parked destination keeps the first
 * record, which names the original cause.
 */
export async function parkDestination(
  queue: DestinationQueue,
  state: DestinationState,
  record: Omit<ParkRecord, "parked_at">,
  log: Logger,
  now: Date = new Date(),
): Promise<ParkRecord> {
  const existing = await state.getPark();
  const park = existing ?? { ...record, parked_at: now.toISOString() };
  if (!existing) await state.setPark(park);
  await queue.deliver.pause();
  if (!existing) {
    log.error(
      {
        destination: queue.destination,
        reason: park.reason,
        cause: park.cause,
        adminHint: park.admin_hint,
        by: park.by,
      },
      "destination parked; deliveries wait until it is resumed",
    );
  }
  return park;
}

/** Resumes a parked (or paused) destination; its backlog drains in order of readiness. */
export async function resumeDestination(
  queue: DestinationQueue,
  state: DestinationState,
  log: Logger,
  by: string,
  now: Date = new Date(),
): Promise<void> {
  const park = await state.getPark();
  // Kept for the operator loop, which tells the CRM admin's channel who resumed which park.
  if (park !== undefined)
    await state.setResumed({ by, at: now.toISOString(), parked_at: park.parked_at, reason: park.reason });
  await state.clearPark();
  await queue.deliver.resume();
  log.info({ destination: queue.destination, by }, "destination resumed");
}
