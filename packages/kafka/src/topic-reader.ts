import { randomUUID } from "node:crypto";
import type { Kafka } from "kafkajs";
import { flattenHeaders, type InboundRecord } from "./message.js";

export interface PartitionRange {
  readonly partition: number;
  /** First offset to read, inclusive. */
  readonly from: string;
  /** Offset to stop before, exclusive. */
  readonly to: string;
}

export interface PartitionWatermarks {
  readonly partition: number;
  /** Oldest offset still kept by the broker. */
  readonly low: string;
  /** The next offset to be written. */
  readonly high: string;
}

export async function topicWatermarks(kafka: Kafka, topic: string): Promise<PartitionWatermarks[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets
      .map((o) => ({ partition: o.partition, low: o.low, high: o.high }))
      .sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads the records of some offset ranges of a topic without touching any consumer group's
 * offsets: a throwaway group that never commits, removed afterwards. For operator tools, not
 * for the hot path (joining a group costs a few seconds).
 */
export async function readTopicRanges(
  kafka: Kafka,
  topic: string,
  ranges: readonly PartitionRange[],
  options: { timeoutMs?: number } = {},
): Promise<InboundRecord[]> {
  const wanted = ranges.filter((r) => BigInt(r.from) < BigInt(r.to));
  if (wanted.length === 0) return [];
  const groupId = `handoff-sync-reader-${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
  });
  const records: InboundRecord[] = [];
  const remaining = new Map(wanted.map((r) => [r.partition, r]));
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ partition, message }) => {
        const range = remaining.get(partition);
        if (!range) return Promise.resolve();
        const offset = BigInt(message.offset);
        if (offset >= BigInt(range.from) && offset < BigInt(range.to)) {
          records.push({
            topic,
            partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: flattenHeaders(message.headers),
            timestamp: Number(message.timestamp),
          });
        }
        if (offset + 1n >= BigInt(range.to)) {
          remaining.delete(partition);
          consumer.pause([{ topic, partitions: [partition] }]);
          if (remaining.size === 0) finish();
        }
        return Promise.resolve();
      },
    });
    for (const range of wanted) consumer.seek({ topic, partition: range.partition, offset: range.from });
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`reading ${topic} timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

export interface PartitionLag {
  readonly partition: number;
  /** The group's committed offset; null when it never committed on this partition. */
  readonly committed: string | null;
  readonly end: string;
  readonly lag: number;
}

/** How far a consumer group is behind the end of each partition of a topic. */
export async function consumerGroupLag(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<PartitionLag[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [ends, groups] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const committed = new Map((groups[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
    return ends
      .map((end) => {
        const offset = committed.get(end.partition);
        const has = offset !== undefined && offset !== "-1";
        // Without a commit the group starts where its reset policy says; count what the broker still keeps.
        const from = has ? BigInt(offset) : BigInt(end.low);
        return {
          partition: end.partition,
          committed: has ? offset : null,
          end: end.high,
          lag: Number(BigInt(end.high) - from),
        };
      })
      .sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}
