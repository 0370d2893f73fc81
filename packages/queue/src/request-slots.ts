/**
 * At most `size` holders at once; the others wait in arrival order. A waiter whose signal aborts
 * stops waiting with a `RequestSlotAbortedError` and takes no slot.
 */
export interface RequestSlots {
  /** Resolves with the slot's release once one is free. Release exactly once. */
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Slots held now. */
  inUse(): number;
}

/** Why a wait for a slot ended without one: its signal aborted (`cause` is the signal's reason). */
export class RequestSlotAbortedError extends Error {
  override readonly name = "RequestSlotAbortedError";
  readonly retryable = true;
  constructor(reason: unknown) {
    super(
      `stopped waiting for a request slot: ${reason instanceof Error ? reason.message : String(reason)}`,
      {
        cause: reason,
      },
    );
  }
}

export function createRequestSlots(size: number): RequestSlots {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`request slots must be a positive integer, got ${size}`);
  let held = 0;
  const waiting: { grant: () => void }[] = [];
  const releaser = (): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiting.shift();
      // The slot passes straight to the next waiter: `held` stays the same.
      if (next !== undefined) next.grant();
      else held--;
    };
  };
  return {
    inUse: () => held,
    acquire(signal) {
      if (signal?.aborted === true) return Promise.reject(new RequestSlotAbortedError(signal.reason));
      if (held < size) {
        held++;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const waiter = {
          grant: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve(releaser());
          },
        };
        const onAbort = (): void => {
          const index = waiting.indexOf(waiter);
          if (index >= 0) waiting.splice(index, 1);
          reject(new RequestSlotAbortedError(signal?.reason));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        waiting.push(waiter);
      });
    },
  };
}
