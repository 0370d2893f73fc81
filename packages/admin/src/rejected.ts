import {
  readTopicRanges,
  REJECTION_HEADERS,
  topicWatermarks,
  type InboundRecord,
  type Kafka,
  type PartitionRange,
} from "@handoff-sync/kafka";

export interface RejectedRecordView {
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: string;
  readonly key: string | null;
  readonly reason: string | null;
  readonly error: string | null;
  readonly source: { topic: string | null; partition: number | null; offset: string | null };
  readonly rejected_at: string | null;
  readonly size: number;
  /** The start of the original value, as text when it is UTF-8, else base64. */
  readonly value_preview: string;
  readonly value_encoding: "utf8" | "base64";
}

export interface RejectedPage {
  readonly partitions: { partition: number; low: string; high: string; next_offset: string | null }[];
  readonly records: RejectedRecordView[];
}

export interface RejectedQuery {
  readonly partition?: number;
  /** First offset to read on each partition; the oldest kept when absent. */
  readonly offset?: string;
  /** Records per partition. */
  readonly limit?: number;
  readonly reason?: string;
}

const PREVIEW_BYTES = 2048;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function header(record: InboundRecord, name: string): string | null {
  const value = record.headers[name];
  return value === undefined ? null : value.toString();
}

function preview(value: Buffer | null): { value_preview: string; value_encoding: "utf8" | "base64" } {
  const bytes = (value ?? Buffer.alloc(0)).subarray(0, PREVIEW_BYTES);
  try {
    return { value_preview: utf8.decode(bytes), value_encoding: "utf8" };
  } catch {
    return { value_preview: bytes.toString("base64"), value_encoding: "base64" };
  }
}

export function viewRejected(record: InboundRecord): RejectedRecordView {
  const sourcePartition = header(record, REJECTION_HEADERS.partition);
  return {
    partition: record.partition,
    offset: record.offset,
    timestamp: new Date(record.timestamp).toISOString(),
    key: record.key === null ? null : record.key.toString(),
    reason: header(record, REJECTION_HEADERS.reason),
    error: header(record, REJECTION_HEADERS.error),
    source: {
      topic: header(record, REJECTION_HEADERS.topic),
      partition: sourcePartition === null ? null : Number(sourcePartition),
      offset: header(record, REJECTION_HEADERS.offset),
    },
    rejected_at: header(record, REJECTION_HEADERS.rejectedAt),
    size: record.value?.length ?? 0,
    ...preview(record.value),
  };
}

/** A page of the rejected-events topic, read by offset; nobody's consumer offsets move. */
export async function listRejected(
  kafka: Kafka,
  topic: string,
  query: RejectedQuery = {},
): Promise<RejectedPage> {
  const limit = Math.max(1, Math.min(query.limit ?? 50, 500));
  const marks = (await topicWatermarks(kafka, topic)).filter(
    (m) => query.partition === undefined || m.partition === query.partition,
  );
  const ranges: PartitionRange[] = [];
  const partitions: RejectedPage["partitions"] = [];
  for (const mark of marks) {
    const low = BigInt(mark.low);
    const high = BigInt(mark.high);
    const requested = query.offset === undefined ? low : BigInt(query.offset);
    const from = requested < low ? low : requested > high ? high : requested;
    const to = from + BigInt(limit) < high ? from + BigInt(limit) : high;
    ranges.push({ partition: mark.partition, from: String(from), to: String(to) });
    partitions.push({
      partition: mark.partition,
      low: mark.low,
      high: mark.high,
      next_offset: to < high ? String(to) : null,
    });
  }
  const records = (await readTopicRanges(kafka, topic, ranges)).map(viewRejected);
  return {
    partitions,
    records: query.reason === undefined ? records : records.filter((r) => r.reason === query.reason),
  };
}

export interface RecordRef {
  readonly partition: number;
  readonly offset: string;
}

/** Reads the rejected records named by these references; ones past the end or pruned are absent. */
export async function readRejected(
  kafka: Kafka,
  topic: string,
  refs: readonly RecordRef[],
): Promise<InboundRecord[]> {
  const marks = new Map((await topicWatermarks(kafka, topic)).map((m) => [m.partition, m]));
  const byPartition = new Map<number, bigint[]>();
  for (const ref of refs) {
    const mark = marks.get(ref.partition);
    const offset = BigInt(ref.offset);
    if (!mark || offset < BigInt(mark.low) || offset >= BigInt(mark.high)) continue;
    byPartition.set(ref.partition, [...(byPartition.get(ref.partition) ?? []), offset]);
  }
  const ranges: PartitionRange[] = [...byPartition].map(([partition, offsets]) => {
    const sorted = offsets.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { partition, from: String(sorted[0] ?? 0n), to: String((sorted.at(-1) ?? 0n) + 1n) };
  });
  const wanted = new Set(refs.map((r) => `${r.partition}:${BigInt(r.offset)}`));
  return (await readTopicRanges(kafka, topic, ranges)).filter((r) =>
    wanted.has(`${r.partition}:${r.offset}`),
  );
}

/** The original headers of a rejected record: the rejection's own are dropped before a re-send. */
export function originalHeaders(record: InboundRecord): Record<string, string | Buffer> {
  const rejection = new Set<string>(Object.values(REJECTION_HEADERS));
  return Object.fromEntries(Object.entries(record.headers).filter(([name]) => !rejection.has(name)));
}
