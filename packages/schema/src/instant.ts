const FRACTION = /\.(\d+)/;

interface Instant {
  /** Whole seconds since the epoch, in milliseconds. */
  readonly secondsMs: number;
  /** Fractional-second digits without trailing zeros, so equal instants compare equal. */
  readonly fraction: string;
}

// Date.parse keeps only milliseconds; producers may send micro- or nanoseconds, and two events a few
// microseconds apart must still sort by time rather than by event id.
function parseInstant(iso: string): Instant {
  const match = FRACTION.exec(iso);
  const fraction = (match?.[1] ?? "").replace(/0+$/, "");
  const secondsMs = Date.parse(match === null ? iso : iso.replace(FRACTION, ""));
  if (Number.isNaN(secondsMs)) throw new RangeError(`not an ISO 8601 datetime: ${iso}`);
  return { secondsMs, fraction };
}

/** Orders ISO 8601 datetimes by the instant they denote, whatever their offsets and precision. */
export function compareInstants(a: string, b: string): number {
  const x = parseInstant(a);
  const y = parseInstant(b);
  if (x.secondsMs !== y.secondsMs) return x.secondsMs < y.secondsMs ? -1 : 1;
  const width = Math.max(x.fraction.length, y.fraction.length);
  const fx = x.fraction.padEnd(width, "0");
  const fy = y.fraction.padEnd(width, "0");
  return fx === fy ? 0 : fx < fy ? -1 : 1;
}

/** Code-unit order, the same on every machine and locale (unlike `localeCompare`). */
export function compareCodeUnits(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}
