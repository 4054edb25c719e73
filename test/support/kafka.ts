import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Producer } from 'kafkajs';

/** Unique per test run: tests never share topic or group names. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export function makeKafka(brokers: readonly string[]): Kafka {
  return new Kafka({ clientId: 'cdci-test', brokers: [...brokers], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100 } });
}

export interface TestRecord {
  readonly key?: unknown;
  /** null = tombstone; a string is sent as is (for bad input), anything else as JSON. */
  readonly value: unknown;
  readonly partition?: number;
  readonly headers?: Record<string, string>;
}

function bytes(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const ensured = new WeakMap<Kafka, Set<string>>();

/**
 * Creates the topic (4 partitions, like the mock's auto-created topics) unless it exists. The real
 * broker creates topics a producer names only through a Metadata round trip that answers "unknown
 * topic" first; the mock has no CreateTopics and creates topics on first use, so its refusal is fine.
 */
export async function ensureTopic(kafka: Kafka, topic: string, numPartitions = 4): Promise<void> {
  const seen = ensured.get(kafka) ?? new Set<string>();
  ensured.set(kafka, seen);
  if (seen.has(topic)) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
  } catch {
    // the mock (no CreateTopics), or the topic exists already
  } finally {
    await admin.disconnect();
  }
  seen.add(topic);
}

export async function produce(kafka: Kafka, topic: string, records: readonly TestRecord[]): Promise<void> {
  await ensureTopic(kafka, topic);
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: records.map((r) => ({
        key: bytes(r.key),
        value: bytes(r.value),
        ...(r.partition !== undefined ? { partition: r.partition } : {}),
        ...(r.headers ? { headers: r.headers } : {}),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** The group's committed next-offset per partition (-1 where none). */
export async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** The high watermark per partition. */
export async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Sum over partitions of committed offsets (none = 0). */
export function totalCommitted(offsets: Map<number, bigint>): bigint {
  let n = 0n;
  for (const v of offsets.values()) if (v > 0n) n += v;
  return n;
}

/** Waits until the group has committed every partition of `topic` up to `end` (its high watermarks). */
export async function waitCommittedTo(
  kafka: Kafka,
  groupId: string,
  topic: string,
  end: Map<number, bigint>,
  { timeoutMs, message }: { timeoutMs: number; message: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await committedOffsets(kafka, groupId, topic);
    if ([...end].every(([p, high]) => c.get(p) === high)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${message}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
