const SECONDS = /^\s*(\d+)\s*$/;

/** `Retry-After` as milliseconds from `nowMs`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const seconds = SECONDS.exec(value)?.[1];
  if (seconds !== undefined) return Number(seconds) * 1_000;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
