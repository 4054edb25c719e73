import type { ChangeEvent, ChangeOp } from '../domain/types.js';
import { evaluate, type SkipCause, type TargetKind } from './evaluate.js';
import { MappingSet } from './mapping-set.js';
import type { Mapping, Targets } from './model.js';
import { beforeIsKeyOnly, identityFor } from './replica-identity.js';
import type { Template } from './template.js';

/**
 * Why each mapping did or did not fire for one event, and what each of its templates rendered or why
 * it rendered nothing. Built by running the production `evaluate` once per template (a one-template
 * copy of the mapping), so it cannot drift from what the worker does.
 */

export interface TemplateSkip {
  readonly image: 'before' | 'after' | 'none';
  readonly reason: SkipCause;
  readonly column: string | undefined;
  /** The reason in words. */
  readonly text: string;
}

export interface TemplateOutcome {
  readonly kind: TargetKind;
  readonly template: string;
  /** True for the templates of `on_truncate`. */
  readonly onTruncate?: true;
  /** The names this template rendered (empty when it gave none). */
  readonly names: readonly string[];
  /** Why an image gave no name. A template may render from one image and skip the other. */
  readonly skipped: readonly TemplateSkip[];
  /** A value no name can be made of (the worker treats the record as poison). */
  readonly error?: string;
}

export interface MappingExplanation {
  readonly mapping: string;
  /** Where the mapping is written: file:line:col. */
  readonly at: string;
  readonly fired: boolean;
  readonly why?: 'op_not_selected' | 'unchanged';
  /** Why it did not fire, in words. */
  readonly because?: string;
  /** Every template of a fired mapping; empty when it did not fire. */
  readonly templates: readonly TemplateOutcome[];
  /** How a delete's before image was read, when that was a question (src/mapping/replica-identity.ts). */
  readonly beforeImage?: { readonly read: 'full' | 'key-only'; readonly because: string };
}

const OP_NAMES: Readonly<Record<ChangeOp, string>> = { c: 'create', u: 'update', d: 'delete', r: 'snapshot read', t: 'truncate' };

export function opName(op: ChangeOp): string {
  return OP_NAMES[op];
}

/** A template skip in words. */
export function skipText(reason: SkipCause, column: string | undefined, image: 'before' | 'after' | 'none'): string {
  const col = column === undefined ? 'a column' : `column "${column}"`;
  switch (reason) {
    case 'null':
      return `${col} is null in the ${image} image`;
    case 'absent':
      return `${col} is not in the ${image} image`;
    case 'toast':
      return `${col} in the ${image} image is an unchanged TOASTed value Debezium did not read (__debezium_unavailable_value)`;
    case 'key_only_image':
      return `the before image carries only the key columns (REPLICA IDENTITY DEFAULT), not ${col}`;
    case 'no_before_image':
      return `the update has no before image (REPLICA IDENTITY DEFAULT): the old value of ${col} is unknown, so its old name cannot be invalidated`;
    case 'truncate':
      return `a truncate has no row to take ${col} from`;
    default:
      return String(reason);
  }
}

/** Why a matched mapping did not fire, in words. */
export function notFiredText(m: Mapping, event: ChangeEvent, why: 'op_not_selected' | 'unchanged' | undefined): string {
  if (why === 'op_not_selected') return `op "${event.op}" (${opName(event.op)}) is not in its ops [${[...m.ops].join(', ')}]`;
  if (why === 'unchanged') return `the update changed none of when.changed [${(m.whenChanged ?? []).join(', ')}]`;
  return 'it did not fire';
}

const FIELD: Readonly<Record<TargetKind, keyof Targets>> = { key: 'keys', tag: 'tags', version: 'versions' };
const KINDS: readonly TargetKind[] = ['key', 'tag', 'version'];
const NO_TARGETS: Targets = { keys: [], tags: [], versions: [] };

function oneTemplate(m: Mapping, kind: TargetKind, t: Template, onTruncate: boolean): Mapping {
  const only: Targets = { ...NO_TARGETS, [FIELD[kind]]: [t] };
  return onTruncate ? { ...m, ...NO_TARGETS, onTruncate: only } : { ...m, ...only, onTruncate: undefined };
}

function outcome(event: ChangeEvent, m: Mapping, kind: TargetKind, t: Template, onTruncate: boolean): TemplateOutcome {
  const base = { kind, template: t.source, ...(onTruncate ? { onTruncate: true as const } : {}) };
  try {
    const plan = evaluate(event, new MappingSet([oneTemplate(m, kind, t, onTruncate)]));
    return {
      ...base,
      names: plan[FIELD[kind]],
      skipped: plan.skipped.map((s) => ({ image: s.image, reason: s.reason, column: s.column, text: skipText(s.reason, s.column, s.image) })),
    };
  } catch (e) {
    return { ...base, names: [], skipped: [], error: (e as Error).message };
  }
}

/** Every mapping that matches the event's table, in file order, with each template's outcome. */
export function explainEvent(event: ChangeEvent, mappings: MappingSet): MappingExplanation[] {
  const out: MappingExplanation[] = [];
  for (const m of mappings.forTable(event.table)) {
    const at = `${m.pos.file}:${m.pos.line}:${m.pos.col}`;
    const head = evaluate(event, new MappingSet([{ ...m, ...NO_TARGETS, onTruncate: undefined }])).results[0];
    if (!head?.fired) {
      out.push({ mapping: m.name, at, fired: false, why: head?.why, because: notFiredText(m, event, head?.why), templates: [] });
      continue;
    }
    const templates: TemplateOutcome[] = [];
    for (const kind of KINDS) for (const t of m[FIELD[kind]]) templates.push(outcome(event, m, kind, t, false));
    if (event.op === 't' && m.onTruncate) {
      for (const kind of KINDS) for (const t of m.onTruncate[FIELD[kind]]) templates.push(outcome(event, m, kind, t, true));
    }
    const beforeImage = beforeImageOf(event, m);
    out.push({ mapping: m.name, at, fired: true, templates, ...(beforeImage ? { beforeImage } : {}) });
  }
  return out;
}

/** How a delete's before image is read for `m`, and why; undefined when its image is plainly a full row. */
function beforeImageOf(event: ChangeEvent, m: Mapping): MappingExplanation['beforeImage'] {
  if (event.op !== 'd' || event.before === null) return undefined;
  const identity = identityFor(event, m.replicaIdentity);
  const source = event.learnedIdentity ? 'as an earlier update of the table showed' : 'as the mapping declares (replica_identity)';
  if (beforeIsKeyOnly(event, identity)) {
    return { read: 'key-only', because: `the table's REPLICA IDENTITY is DEFAULT, ${source}: only the key columns are real` };
  }
  if (!event.beforeLooksKeyOnly) return undefined;
  if (identity === 'full') return { read: 'full', because: `the table's REPLICA IDENTITY is FULL, ${source}: its empty values are real` };
  return {
    read: 'full',
    because: 'every non-key column is null, empty or its default, as in a REPLICA IDENTITY DEFAULT delete, but nothing tells the table\'s identity: read as the full old row (declare replica_identity in the mapping)',
  };
}

/** The explanation as indented text lines (for `explain --format text` and failing mapping tests). */
export function explanationLines(explained: readonly MappingExplanation[], indent = ''): string[] {
  const lines: string[] = [];
  for (const m of explained) {
    if (!m.fired) {
      lines.push(`${indent}${m.mapping} (${m.at}): not fired: ${m.because ?? m.why ?? ''}`);
      continue;
    }
    lines.push(`${indent}${m.mapping} (${m.at}): fired`);
    if (m.beforeImage) lines.push(`${indent}  before image read as ${m.beforeImage.read === 'full' ? 'the full old row' : 'key-only'}: ${m.beforeImage.because}`);
    for (const t of m.templates) {
      const head = `${indent}  ${t.onTruncate ? 'on_truncate.' : ''}${t.kind} "${t.template}"`;
      if (t.error !== undefined) {
        lines.push(`${head}: error: ${t.error}`);
        continue;
      }
      const parts: string[] = [];
      if (t.names.length > 0) parts.push(`→ ${t.names.join(', ')}`);
      for (const s of t.skipped) parts.push(`${t.names.length > 0 || t.skipped.length > 1 ? `no name from ${s.image}: ` : 'no name: '}${s.text}`);
      if (parts.length === 0) parts.push('no name');
      lines.push(`${head} ${parts.join('; ')}`);
    }
  }
  return lines;
}
