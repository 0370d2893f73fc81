import { RetryableDeliveryError, type BatchItemOutcome } from "@handoff-sync/schema";
import type { DeliveryRequest, DeliveryResult } from "../contract.js";
import type { SendGuard } from "../http/send-guard.js";

/**
 * Runs every delivery's `beforeWrite` (its write claim and fence check, decision 0017) right
 * before the batch request: the indexes that may write, and the refusal of each that may not.
 */
export async function claimBatch(
  requests: readonly DeliveryRequest[],
  among: readonly number[] = requests.map((_, index) => index),
): Promise<{ claimed: number[]; refused: Map<number, unknown> }> {
  const settled = await Promise.allSettled(
    among.map((index) => requests[index]?.beforeWrite?.() ?? Promise.resolve()),
  );
  const claimed: number[] = [];
  const refused = new Map<number, unknown>();
  settled.forEach((result, position) => {
    const index = among[position] ?? -1;
    if (result.status === "fulfilled") claimed.push(index);
    else refused.set(index, result.reason);
  });
  return { claimed, refused };
}

/**
 * How many times one batch request is sent again, at once, after another delivery's send guard
 * stopped it: the deliveries it stopped wrote nothing and are checked afresh before each send.
 */
export const RESENDS_AFTER_REFUSAL = 1;

/** Why the send guard stopped a batch request, by delivery. */
export interface StoppedSend {
  /** Each delivery whose own check refused the write, with its refusal (a lost lock, a stale check). */
  readonly refused: ReadonlyMap<number, Error>;
  /** The deliveries stopped by someone else's refusal: nothing of theirs was written. */
  readonly others: readonly number[];
}

/** The send guard of one batch request, and afterwards whose verdict stopped it. */
export interface BatchSendGuard {
  /** Runs as the bytes leave; undefined when no delivery has a guard. */
  readonly guard: SendGuard | undefined;
  /**
   * After the request failed: whose check stopped it, or undefined when every check let it go (the
   * failure then concerns every delivery in it: unanswered, so ambiguous, or answered).
   */
  stopped(): StoppedSend | undefined;
}

/**
 * The send guard of one batch request (`among`: the indexes of the deliveries in it): every
 * delivery must still be allowed to write as the bytes leave, so one refusal stops the whole
 * request unsent. A refusal is its own delivery's verdict only: a lock lost or a check gone stale
 * says nothing about the others' locks, and a lost lock taken for theirs would end their jobs as
 * superseded while no one else delivers them. `stopped()` tells them apart.
 */
export function batchSendGuard(
  requests: readonly DeliveryRequest[],
  among: readonly number[] = requests.map((_, index) => index),
): BatchSendGuard {
  const guarded = among.flatMap((index) => {
    const guard = requests[index]?.sendGuard;
    return guard === undefined ? [] : [{ index, guard }];
  });
  const refused = new Map<number, Error>();
  return {
    guard:
      guarded.length === 0
        ? undefined
        : () => {
            refused.clear();
            // Every guard runs: each one's check is spent by this write, whatever the others say.
            for (const { index, guard } of guarded) {
              const verdict = guard();
              if (verdict !== undefined) refused.set(index, verdict);
            }
            return refused.values().next().value;
          },
    stopped: () =>
      refused.size === 0
        ? undefined
        : { refused: new Map(refused), others: among.filter((index) => !refused.has(index)) },
  };
}

/** The error of a delivery whose batch request another delivery's refusal kept stopping. */
export function stoppedByOthers(): RetryableDeliveryError {
  return new RetryableDeliveryError(
    "not sent: another delivery in its batch request could not write, so the request was stopped; this one wrote nothing",
  );
}

/**
 * Aborts the batch request only once every delivery in it was aborted (shutdown): one job losing
 * its lock must not cut the others' write off in the middle, which would make theirs ambiguous.
 */
export function batchSignal(requests: readonly DeliveryRequest[]): AbortSignal | undefined {
  const signals = requests.flatMap((request) => (request.signal === undefined ? [] : [request.signal]));
  if (signals.length < requests.length || signals.length === 0) return undefined;
  const controller = new AbortController();
  const check = (): void => {
    if (signals.every((signal) => signal.aborted)) controller.abort(signals[0]?.reason);
  };
  for (const signal of signals) signal.addEventListener("abort", check, { once: true });
  check();
  return controller.signal;
}

/** Fills the outcomes of a batch: refusals first, then what the request said per item. */
export function outcomesOf(
  size: number,
  refused: ReadonlyMap<number, unknown>,
  answered: ReadonlyMap<number, BatchItemOutcome<DeliveryResult>>,
): BatchItemOutcome<DeliveryResult>[] {
  return Array.from({ length: size }, (_, index): BatchItemOutcome<DeliveryResult> => {
    if (refused.has(index)) return { ok: false, error: refused.get(index) };
    return (
      answered.get(index) ?? {
        ok: false,
        error: new Error(`no outcome for batch item ${index}: this is a bug in the adapter`),
      }
    );
  });
}
