import type { Mapping } from '../mapping/model.js';
import { parseTemplate, TemplateSyntaxError, type Template } from '../mapping/template.js';
import { CacheConfigError, CacheParamError } from './errors.js';
import { renderStrict, whereIs, type Params } from './names.js';
import { literalPrefix } from './prefixes.js';

/** What one cached thing is named after, and what invalidates it. */
export interface EntryNaming {
  /** The mapping whose templates name and invalidate this entry. */
  readonly mapping: string;
  /**
   * One of the mapping's `keys` templates, exactly as written in the YAML (`"customer:{id}"`): the worker
   * deletes this key itself. Default: the mapping's only key template (when it has one, and no `name`).
   */
  readonly key?: string;
  /**
   * A name of the application's own (same template language: `"catalog:category:{category_id}:page:{page}"`)
   * that no mapping key deletes: it must be invalidated through `tags` or `versions`.
   */
  readonly name?: string;
  /** Templates from the mapping's `tags` (or `on_truncate.tags`) whose sets this key joins on every fill. */
  readonly tags?: readonly string[];
  /** Templates from the mapping's `versions` (or `on_truncate.versions`) whose counters this entry lives under. */
  readonly versions?: readonly string[];
  /** Label in metrics and logs. Default `<mapping>/<template>`. */
  readonly id?: string;
}

/** An entry's names, resolved against its mapping once, when it is declared. */
export interface ResolvedNaming {
  readonly id: string;
  readonly mapping: Mapping;
  /** The key (`kind: 'key'`) or own name (`kind: 'name'`) template. */
  readonly template: Template;
  readonly kind: 'key' | 'name';
  readonly tags: readonly Template[];
  readonly versions: readonly Template[];
  /**
   * How version counters apply: `embed` (own names) puts their values into the physical key,
   * `check` (mapping keys, whose names the worker deletes as they are) records them in the envelope
   * and treats a value filled under other counter values as a miss.
   */
  readonly versionMode: 'embed' | 'check';
  /** Every parameter the entry's templates take. */
  readonly params: ReadonlySet<string>;
  /** The literal start of the key and of each counter ('' when a template starts with a column). */
  readonly keyPrefix: string;
  readonly versionPrefixes: readonly string[];
}

export interface RenderedEntry {
  /** The key (`kind: 'key'`) or the name before version counters are applied. */
  readonly key: string;
  readonly tags: readonly string[];
  readonly versions: readonly string[];
}

function pick(m: Mapping, sources: readonly string[] | undefined, own: readonly Template[], truncate: readonly Template[], field: 'tags' | 'versions'): Template[] {
  const known = [...own, ...truncate];
  const out = new Map<string, Template>();
  // What a truncate invalidates applies to every entry of the mapping: a truncate has no row.
  if (m.ops.has('t')) for (const t of truncate) out.set(t.source, t);
  for (const s of sources ?? []) {
    const t = known.find((k) => k.source === s);
    if (!t) {
      const list = [...new Set(known.map((k) => k.source))];
      throw new CacheConfigError(`mapping "${m.name}" (${whereIs(m)}) has no ${field} template "${s}" (its ${field}: ${list.length > 0 ? list.join(', ') : 'none'})`);
    }
    out.set(t.source, t);
  }
  return [...out.values()];
}

/**
 * Resolves an entry's naming against its mapping: the key or name template, the tag sets it joins
 * and the version counters it lives under. Errors name the mapping's file:line.
 */
export function resolveNaming(m: Mapping, spec: EntryNaming): ResolvedNaming {
  const where = `mapping "${m.name}" (${whereIs(m)})`;
  if (spec.key !== undefined && spec.name !== undefined) throw new CacheConfigError(`${where}: an entry has either a key (a template of the mapping) or a name (its own), not both`);
  let template: Template;
  let kind: 'key' | 'name';
  if (spec.name !== undefined) {
    kind = 'name';
    try {
      template = parseTemplate(spec.name);
    } catch (e) {
      if (!(e instanceof TemplateSyntaxError)) throw e;
      throw new CacheConfigError(`${where}: entry name "${spec.name}": ${e.message}`);
    }
    if (m.keys.some((k) => k.source === spec.name)) {
      throw new CacheConfigError(`${where}: "${spec.name}" is one of the mapping's keys: declare it as key, not name`);
    }
  } else {
    kind = 'key';
    const keys = m.keys.map((k) => k.source);
    if (spec.key !== undefined) {
      const found = m.keys.find((k) => k.source === spec.key);
      if (!found) throw new CacheConfigError(`${where} has no key template "${spec.key}" (its keys: ${keys.length > 0 ? keys.join(', ') : 'none'})`);
      template = found;
    } else if (m.keys.length === 1) {
      template = m.keys[0]!;
    } else {
      throw new CacheConfigError(`${where}: say which key the entry caches (key: one of ${keys.join(', ') || 'none'}), or give it a name of its own`);
    }
  }
  const tags = pick(m, spec.tags, m.tags, m.onTruncate?.tags ?? [], 'tags');
  const versions = pick(m, spec.versions, m.versions, m.onTruncate?.versions ?? [], 'versions');
  if (kind === 'name' && tags.length === 0 && versions.length === 0) {
    throw new CacheConfigError(`${where}: the worker never deletes "${template.source}": an entry with its own name needs tags or versions of the mapping`);
  }
  const params = new Set<string>();
  for (const t of [template, ...tags, ...versions]) for (const c of t.columns) params.add(c);
  return {
    id: spec.id ?? `${m.name}/${template.source}`,
    mapping: m,
    template,
    kind,
    tags,
    versions,
    versionMode: kind === 'name' ? 'embed' : 'check',
    params,
    keyPrefix: literalPrefix(template),
    versionPrefixes: versions.map(literalPrefix),
  };
}

/** Renders an entry's names from a call's parameters; unknown, missing, null or non-scalar parameters throw CacheParamError. */
export function renderEntry(n: ResolvedNaming, params: Params): RenderedEntry {
  for (const k of Object.keys(params)) {
    if (!n.params.has(k)) {
      throw new CacheParamError(
        `mapping "${n.mapping.name}" (${whereIs(n.mapping)}): entry ${n.id} takes no parameter "${k}" (it takes: ${[...n.params].join(', ') || 'none'})`,
      );
    }
  }
  return {
    key: renderStrict(n.mapping, n.template, params, n.kind),
    tags: n.tags.map((t) => renderStrict(n.mapping, t, params, 'tag')),
    versions: n.versions.map((t) => renderStrict(n.mapping, t, params, 'version')),
  };
}

/**
 * The key a versioned entry (`embed`) is stored under: its name, `#v`, and the counter values in the
 * entry's order, joined by `.` — `tenant:7:orders:recent#v12` (one counter), `…#v12.3` (two). A missing
 * counter counts as 0. A hash tag (`{…}`) in the name stays the first, so the slot is the name's.
 */
export function physicalKey(name: string, counters: readonly number[]): string {
  return counters.length === 0 ? name : `${name}#v${counters.join('.')}`;
}
