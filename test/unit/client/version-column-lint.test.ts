import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lintAgainstCatalog, type TableInfo } from '../../../src/mapping/db-lint.js';
import { mappingPositions } from '../../../src/mapping/mapping-positions.js';
import { MappingSet } from '../../../src/mapping/mapping-set.js';
import { formatProblem } from '../../../src/mapping/model.js';
import { parseMappingFile } from '../../../src/mapping/parse.js';

/** `mappings validate --database`: version_column names a column of the table (xmin always exists). */

const YAML = `mappings:
  - name: a
    table: s.a
    keys: ["a:{id}"]
    ops: [c, u, d]
    version_column: revision
  - name: b
    table: s.b
    keys: ["b:{id}"]
    ops: [c, u, d]
    version_column: xmin
  - name: c
    table: s.c
    keys: ["c:{id}"]
    ops: [c, u, d]
    version_column: version
`;

const table = (name: string, columns: string[]): TableInfo => ({ schema: 's', name, columns, replicaIdentity: 'f', identityColumns: columns, primaryKey: ['id'] });

describe('version_column against the database catalog', () => {
  it('warns, at the field, when the column does not exist; accepts xmin and real columns', () => {
    const parsed = parseMappingFile('m.yaml', YAML);
    assert.deepEqual(parsed.problems, []);
    const catalog = new Map([
      ['s.a', table('a', ['id', 'name'])],
      ['s.b', table('b', ['id'])],
      ['s.c', table('c', ['id', 'version'])],
    ]);
    const problems = lintAgainstCatalog(new MappingSet(parsed.mappings), catalog, new Map([['m.yaml', mappingPositions('m.yaml', YAML)]]));
    assert.deepEqual(problems.map(formatProblem), ['m.yaml:6:21 warning: mapping "a": version_column "revision" does not exist in s.a']);
  });
});
