import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_OK } from '../config/errors.js';
import { evaluate } from '../mapping/evaluate.js';
import { explainEvent, explanationLines, opName, type MappingExplanation } from '../mapping/explain-plan.js';
import { loadMappings } from '../mapping/load.js';
import type { MappingSet } from '../mapping/mapping-set.js';
import { formatProblem } from '../mapping/model.js';
import { recordFromText } from '../mapping/record-input.js';
import { ConfigError } from '../config/errors.js';
import { resolveDecoderConfig } from '../config/schema-registry.js';
import { withDeprecatedEnv } from '../config/settings.js';
import { addSettings } from './options.js';
import { decodeDebeziumJson } from '../pipeline/decode/debezium-json.js';
import { createDecoder, type RecordDecoder } from '../pipeline/decode/format.js';
import { isRegistryFramed } from '../pipeline/decode/registry-client.js';

export interface ExplainLine {
  readonly file: string;
  readonly result: 'event' | 'skip' | 'error';
  readonly [field: string]: unknown;
}

/**
 * Decodes and maps each file without Kafka or Redis: one result per file. A file holds one Kafka
 * record value as JSON, or a record `{topic, key, value, headers}` (the shape `kcat -J` and our
 * fixtures use), so the key and topic can be given too.
 *
 * An event's line carries `mappings` (the names that matched the table), `matched` (per mapping:
 * fired or not and why not, and per template the names it rendered or why it gave none), and the
 * union that would be invalidated: `keys`, `tags`, `versions`, with `skipped` templates.
 */
export async function explainFiles(files: readonly string[], mappings: MappingSet, topic = 'explain', decode: RecordDecoder = decodeDebeziumJson): Promise<ExplainLine[]> {
  const out: ExplainLine[] = [];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      out.push({ file, result: 'error', error: `cannot read: ${(e as Error).message}` });
      continue;
    }
    try {
      // A registry-framed value (magic byte 0, schema id: Avro, Protobuf, JSON Schema) as written to Kafka, or JSON text.
      const framed: boolean = isRegistryFramed(bytes);
      const record = framed
        ? { topic, partition: 0, offset: '0', key: null, value: bytes, headers: {} }
        : recordFromText(bytes.toString('utf8'), { topic });
      const decoded = await decode(record);
      if (decoded.kind === 'skip') {
        out.push({ file, result: 'skip', reason: decoded.reason });
        continue;
      }
      const { event } = decoded;
      const matched = explainEvent(event, mappings);
      let plan: ReturnType<typeof evaluate>;
      try {
        plan = evaluate(event, mappings);
      } catch (e) {
        // a value no name can be made of (the worker dead-letters the record): say which template
        const err = e as Error & { code?: string };
        out.push({ file, result: 'error', table: event.table, op: event.op, matched, error: err.message, ...(err.code ? { code: err.code } : {}) });
        continue;
      }
      out.push({
        file,
        result: 'event',
        table: event.table,
        op: event.op,
        mappings: plan.mappings,
        matched,
        keys: plan.keys,
        tags: plan.tags,
        versions: plan.versions,
        skipped: plan.skipped,
        ...(plan.mappings.length === 0 ? { note: `no mapping names table ${event.table}` } : {}),
      });
    } catch (e) {
      const err = e as Error & { code?: string };
      out.push({ file, result: 'error', error: err.message, ...(err.code ? { code: err.code } : {}) });
    }
  }
  return out;
}

const names = (v: unknown): string => {
  const a = v as string[];
  return a.length === 0 ? '(none)' : a.join(', ');
};

/** One result as text: the event, then each matched mapping and template. */
export function explainText(line: ExplainLine): string[] {
  if (line.result === 'error') {
    const code = line['code'] as string | undefined; // explainFiles sets it from the error's code
    const out = [`${line.file}: error: ${String(line['error'])}${code ? ` (${code})` : ''}`];
    if (Array.isArray(line['matched'])) out.push(...explanationLines(line['matched'] as MappingExplanation[], '  '));
    return out;
  }
  if (line.result === 'skip') return [`${line.file}: skipped by the decoder (${String(line['reason'])}): invalidates nothing`];
  const op = line['op'] as Parameters<typeof opName>[0];
  const out = [`${line.file}: ${opName(op)} (op ${op}) on ${String(line['table'])}`];
  const matched = line['matched'] as MappingExplanation[];
  if (matched.length === 0) out.push(`  no mapping matches table ${String(line['table'])}: invalidates nothing`);
  out.push(...explanationLines(matched, '  '));
  out.push(`  invalidates: keys ${names(line['keys'])}; tags ${names(line['tags'])}; versions ${names(line['versions'])}`);
  return out;
}

interface ExplainOptions {
  mappings?: string;
  topic?: string;
  output?: string;
  /** Deprecated spelling of --output. */
  format?: string;
  schemaRegistry?: string;
  schemaRegistryCa?: string;
}

async function explainCommand(files: string[], opts: ExplainOptions): Promise<number> {
  const { env, warnings } = withDeprecatedEnv(process.env);
  for (const w of warnings) console.error(`cdc-invalidator: warning: ${w}`);
  if (opts.format !== undefined) console.error('cdc-invalidator: warning: explain --format is deprecated: use --output');
  const output = opts.output ?? opts.format ?? 'json';
  if (output !== 'json' && output !== 'text') {
    console.error(`cdc-invalidator: --output: expected json or text, got "${output}"`);
    return EXIT_CONFIG;
  }
  let decode: RecordDecoder;
  try {
    // Registry-framed files need the registry; JSON files never touch it.
    decode = createDecoder(resolveDecoderConfig({ format: 'auto', schemaRegistry: opts.schemaRegistry, schemaRegistryCa: opts.schemaRegistryCa }, env));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`cdc-invalidator: ${e.message}`);
    return EXIT_CONFIG;
  }
  const loaded = await loadMappings(opts.mappings ?? (env['CDC_INVALIDATOR_MAPPINGS'] || './mappings'));
  for (const p of loaded.problems) console.error(formatProblem(p));
  if (!loaded.set) return EXIT_CONFIG;
  const lines = await explainFiles(files, loaded.set, opts.topic, decode);
  for (const line of lines) {
    if (output === 'json') console.log(JSON.stringify(line));
    else console.log(explainText(line).join('\n'));
  }
  return lines.some((l) => l.result === 'error') ? EXIT_FAILURE : EXIT_OK;
}

export function registerExplain(p: Command, setExit: (code: number) => void): void {
  const cmd = p
    .command('explain <files...>')
    .description('show what each file (one Kafka record, or its value, as JSON; or a Schema Registry framed value) would invalidate, mapping by mapping and template by template; needs no Kafka or Redis');
  addSettings(cmd, 'explain').action(async (files: string[], opts: ExplainOptions) => setExit(await explainCommand(files, opts)));
}
