import type { IHeaders } from "kafkajs";

/** A consumed record as the rest of the system sees it, free of kafkajs types. */
export interface InboundRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string | Buffer>>;
  /** Broker or producer timestamp, milliseconds since the epoch. */
  readonly timestamp: number;
}

export function flattenHeaders(headers: IHeaders | undefined): Record<string, string | Buffer> {
  const flat: Record<string, string | Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) flat[name] = first;
  }
  return flat;
}
