import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { MappingSet } from './mapping-set.js';
import type { Mapping, Problem } from './model.js';
import { parseMappingFile } from './parse.js';
import { decodeUtf8 } from './utf8.js';

export interface LoadResult {
  /** Present only when there is no error (warnings allowed). */
  readonly set: MappingSet | undefined;
  readonly problems: readonly Problem[];
  readonly files: readonly string[];
}

const MAPPING_FILE = /\.ya?ml$/;
/** Reserved for mapping test files that sit beside the mappings. */
const TEST_FILE = /\.test\.ya?ml$/;

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    // Hidden entries are skipped: a Kubernetes ConfigMap volume holds the real files in a
    // `..<timestamp>/` directory behind a `..data` link, and links each file from the top.
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(path)));
    else if (MAPPING_FILE.test(e.name) && !TEST_FILE.test(e.name)) out.push(path);
  }
  return out;
}

/** Reads every `*.yaml`/`*.yml` below dir (sorted, recursive, hidden entries skipped) and compiles them into one set. */
export async function loadMappings(dir: string): Promise<LoadResult> {
  const problems: Problem[] = [];
  const here = { file: dir, line: 1, col: 1 };
  try {
    if (!(await stat(dir)).isDirectory()) {
      return { set: undefined, files: [], problems: [{ ...here, severity: 'error', message: 'not a directory' }] };
    }
  } catch (e) {
    return { set: undefined, files: [], problems: [{ ...here, severity: 'error', message: `cannot read mappings directory: ${(e as Error).message}` }] };
  }
  const files = await listFiles(dir);
  if (files.length === 0) {
    problems.push({ ...here, severity: 'error', message: 'no mapping files (*.yaml, *.yml) in this directory' });
  }
  const mappings: Mapping[] = [];
  for (const path of files) {
    const rel = relative(process.cwd(), path) || path;
    const shown = rel.startsWith('..') ? path : rel;
    const decoded = decodeUtf8(shown, await readFile(path));
    if (!('text' in decoded)) {
      problems.push({ ...decoded.pos, severity: 'error', message: decoded.message });
      continue;
    }
    const result = parseMappingFile(shown, decoded.text);
    problems.push(...result.problems);
    mappings.push(...result.mappings);
  }
  const seen = new Map<string, Mapping>();
  for (const m of mappings) {
    const first = seen.get(m.name);
    if (first) {
      problems.push({ ...m.pos, severity: 'error', message: `duplicate mapping name "${m.name}" (first defined at ${first.pos.file}:${first.pos.line})` });
    } else {
      seen.set(m.name, m);
    }
  }
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  summariseTruncateWarnings(problems);
  const ok = problems.every((p) => p.severity !== 'error');
  return { set: ok ? new MappingSet(mappings) : undefined, problems, files };
}

const TRUNCATE_WARNING = /^a truncate of (\S+) invalidates nothing/;

/** One line for every mapping whose truncate invalidates nothing, instead of one per mapping. */
function summariseTruncateWarnings(problems: Problem[]): void {
  const hits = problems.filter((p) => p.severity === 'warning' && TRUNCATE_WARNING.test(p.message));
  if (hits.length < 2) return;
  const tables = hits.map((p) => TRUNCATE_WARNING.exec(p.message)![1]!);
  const first = hits[0]!;
  for (const h of hits) problems.splice(problems.indexOf(h), 1);
  problems.splice(0, 0, {
    ...first,
    message: `${hits.length} mappings invalidate nothing on a truncate (every template uses a column): ${[...new Set(tables)].join(', ')} (add on_truncate, or drop "t" from ops)`,
  });
}
