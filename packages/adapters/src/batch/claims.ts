import type { BatchItemOutcome } from "@handoff-sync/schema";
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
 * The send guard of one batch request: every delivery in it must still be allowed to write as the
 * bytes leave. One refusal stops the whole request unsent (a stall that old is the process's, so it
 * concerns them all); nothing was written, so each delivery retries without ambiguity.
 */
export function batchSendGuard(requests: readonly DeliveryRequest[]): SendGuard | undefined {
  const guards = requests.flatMap((request) => (request.sendGuard === undefined ? [] : [request.sendGuard]));
  if (guards.length === 0) return undefined;
  return () => {
    let refused: Error | undefined;
    // Every guard runs: each one's check is spent by this write, whatever the others say.
    for (const guard of guards) refused = guard() ?? refused;
    return refused;
  };
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
