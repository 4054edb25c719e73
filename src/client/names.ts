import { loadMappings } from '../mapping/load.js';
import type { MappingSet } from '../mapping/mapping-set.js';
import { formatProblem, type Mapping } from '../mapping/model.js';
import { renderTemplate, TemplateRenderError, type Template } from '../mapping/template.js';
import { CacheConfigError, CacheParamError } from './errors.js';

/** Values a template can render: what a database row or a caller's parameters hold. */
export type ParamValue = string | number | bigint | boolean;
export type Params = Readonly<Record<string, ParamValue | null | undefined>>;

/** What a row change of this mapping invalidates for one row (templates the row cannot render are left out). */
export interface RenderedNames {
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly versions: readonly string[];
}

/** `file:line` of a mapping, for messages. */
export function whereIs(m: Mapping): string {
  return `${m.pos.file}:${m.pos.line}`;
}

const MISSING: Readonly<Record<string, string>> = {
  null: 'is null',
  absent: 'is missing',
  toast: 'is an unavailable TOAST value',
  key_only_image: 'is not in the row',
};

/**
 * Renders one template from parameters with the worker's own template code, or throws
 * CacheParamError naming the mapping's file:line, the template and the parameter.
 */
export function renderStrict(m: Mapping, t: Template, params: Params, what: string): string {
  let r;
  try {
    r = renderTemplate(t, params);
  } catch (e) {
    if (e instanceof TemplateRenderError) throw new CacheParamError(`mapping "${m.name}" (${whereIs(m)}): ${what} "${t.source}": ${e.message}`);
    throw e;
  }
  if (r.ok) return r.key;
  const given = Object.keys(params);
  throw new CacheParamError(
    `mapping "${m.name}" (${whereIs(m)}): ${what} "${t.source}" needs parameter "${r.column}", which ${MISSING[r.reason] ?? r.reason}` +
      ` (given: ${given.length > 0 ? given.join(', ') : 'none'})`,
  );
}

/**
 * The mappings as the cache client sees them: the worker's own compiled MappingSet, looked up by
 * mapping name, with errors that point at the mapping files.
 */
export class CacheMappings {
  readonly #byName = new Map<string, Mapping>();

  constructor(
    readonly set: MappingSet,
    /** Where the mappings came from (a directory), for messages. */
    readonly source = 'the given mappings',
  ) {
    for (const m of set.mappings) this.#byName.set(m.name, m);
  }

  /** Loads a mappings directory like the worker does (`--mappings`); invalid files throw CacheConfigError listing every problem as file:line:col. */
  static async fromDirectory(dir: string): Promise<CacheMappings> {
    const loaded = await loadMappings(dir);
    if (!loaded.set) {
      const errors = loaded.problems.filter((p) => p.severity === 'error').map(formatProblem);
      throw new CacheConfigError(`invalid mappings in ${dir}:\n${errors.join('\n')}`);
    }
    return new CacheMappings(loaded.set, dir);
  }

  /** The mapping of that name, or CacheConfigError listing the known names. */
  mapping(name: string): Mapping {
    const m = this.#byName.get(name);
    if (m) return m;
    const known = [...this.#byName.keys()].sort();
    throw new CacheConfigError(`no mapping named "${name}" in ${this.source} (known: ${known.length > 0 ? known.join(', ') : 'none'})`);
  }

  /**
   * The keys, tags and version counters a change of this row invalidates, as the worker renders them
   * from a row image (a template whose column the row lacks or holds null is left out). Throws
   * CacheParamError for a column that holds an object or array.
   */
  render(mappingName: string, row: Params): RenderedNames {
    const m = this.mapping(mappingName);
    const each = (templates: readonly Template[], what: string): string[] => {
      const out = new Set<string>();
      for (const t of templates) {
        let r;
        try {
          r = renderTemplate(t, row);
        } catch (e) {
          if (e instanceof TemplateRenderError) throw new CacheParamError(`mapping "${m.name}" (${whereIs(m)}): ${what} "${t.source}": ${e.message}`);
          throw e;
        }
        if (r.ok) out.add(r.key);
      }
      return [...out];
    };
    return { keys: each(m.keys, 'key'), tags: each(m.tags, 'tag'), versions: each(m.versions, 'version') };
  }
}
