/** The main stream: generated, preloaded once, read by the consume, naive and worker phases. */
import { join } from 'node:path';
import { watermarks, type Watermarks } from './offsets.js';
import { ChangeStream, PARTITIONS_PER_TOPIC, planTables, preload, writeMappings, type PreloadResult, type TableSpec } from './stream.js';
import { capAfter, round, type BenchContext } from './util.js';

export interface MainStream {
  readonly tables: readonly TableSpec[];
  readonly topics: readonly string[];
  readonly mappingsDir: string;
  readonly records: number;
  /** Keys the worker deletes, in stream order, duplicates kept. */
  readonly keys: readonly string[];
  readonly uniqueKeys: ReadonlySet<string>;
  readonly ends: Watermarks;
  readonly preload: PreloadResult;
  readonly summary: Record<string, number | string>;
}

export async function prepareMainStream(ctx: BenchContext): Promise<MainStream> {
  const { opts } = ctx;
  const tables = planTables('inventory', opts.events, 16, ctx.broker.partitionBudgetBytes);
  await ctx.broker.createTopics(ctx.admin, tables.map((t) => ({ topic: t.topic, partitions: PARTITIONS_PER_TOPIC })));
  const mappingsDir = await writeMappings(join(opts.workDir, 'mappings-main'), tables);
  const stream = new ChangeStream(tables, opts.seed);
  const keys: string[] = [];
  const uniqueKeys = new Set<string>();
  let tombstones = 0;
  let schemaRecords = 0;
  let threeKeys = 0;
  let pkMoves = 0;
  let schemaBytes = 0;
  let plainBytes = 0;
  const result = await preload(ctx.producer, stream, {
    records: opts.events,
    batch: opts.produceBatch,
    deadline: capAfter(120_000 + opts.events),
    onRecord: (r) => {
      for (const k of r.keys) {
        keys.push(k);
        uniqueKeys.add(k);
      }
      const size = r.key.length + (r.value?.length ?? 0);
      if (r.value === null) tombstones++;
      else if (tables[r.table]!.withSchema) {
        schemaRecords++;
        schemaBytes += size;
      } else plainBytes += size;
      if (r.keys.length === 3) threeKeys++;
      if (r.headers?.['__debezium.newkey']) pkMoves++;
    },
  });
  const topics = tables.map((t) => t.topic);
  const ends = await watermarks(ctx.admin, topics);
  if (ends.truncated.length > 0 || ends.stored !== result.records) {
    throw new Error(
      `the broker did not keep the whole stream (stored ${ends.stored} of ${result.records}; truncated: ${ends.truncated.slice(0, 5).join(', ')}): use fewer events or a smaller --produce-batch`,
    );
  }
  const events = result.records - tombstones;
  const summary = {
    records: result.records,
    change_events: events,
    tombstones,
    tables: tables.length,
    topics: topics.length,
    partitions: ends.high.size,
    tables_with_schema: tables.filter((t) => t.withSchema).length,
    records_with_schema: schemaRecords,
    key_column_changes: threeKeys,
    primary_key_changes: pkMoves,
    keys_total: keys.length,
    keys_distinct: uniqueKeys.size,
    keys_per_record: round(keys.length / result.records, 3),
    avg_bytes_plain: round(plainBytes / Math.max(1, events - schemaRecords)),
    avg_bytes_schema: round(schemaBytes / Math.max(1, schemaRecords)),
    megabytes: round(result.bytes / 1048576, 1),
    produce_seconds: round(result.seconds, 2),
    produce_records_per_s: round(result.records / result.seconds),
  };
  ctx.log(
    `main stream: ${result.records} records (${events} change events, ${tombstones} tombstones) on ${topics.length} topics × 4 partitions, ` +
      `${summary.megabytes} MiB, ${keys.length} keys (${uniqueKeys.size} distinct); produced in ${summary.produce_seconds} s (${summary.produce_records_per_s} records/s)`,
  );
  return { tables, topics, mappingsDir, records: result.records, keys, uniqueKeys, ends, preload: result, summary };
}
