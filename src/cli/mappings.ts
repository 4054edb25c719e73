import { decodeDebeziumJson } from '../pipeline/decode/debezium-json.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_OK } from '../config/errors.js';
import { withDeprecatedEnv } from '../config/settings.js';
import { DatabaseUnavailableError, lintDatabase } from '../mapping/db-lint.js';
import { junitXml } from '../mapping/junit.js';
import { loadMappings } from '../mapping/load.js';
import { formatProblem, type Problem } from '../mapping/model.js';
import { formatCaseResult, loadMappingTests, runMappingTests, type CaseResult } from '../mapping/test-runner.js';

/** `mappings validate` and `mappings test`. Output goes to stdout (problems, results) and stderr (summaries). */

const defaultDir = (dir?: string): string => {
  if (dir !== undefined) return dir;
  const { env, warnings } = withDeprecatedEnv(process.env);
  for (const w of warnings) if (w.includes('MAPPINGS')) console.error(`cdc-invalidator: warning: ${w}`);
  return env['CDC_INVALIDATOR_MAPPINGS'] || './mappings';
};

export interface ValidateOptions {
  readonly database?: string;
  readonly strict?: boolean;
}

export async function validateCommand(dir: string, opts: ValidateOptions = {}): Promise<number> {
  const loaded = await loadMappings(dir);
  for (const p of loaded.problems) console.log(formatProblem(p));
  if (!loaded.set) return EXIT_CONFIG;
  let warnings = loaded.problems.filter((p) => p.severity === 'warning').length;
  let dbNote = '';
  if (opts.database !== undefined) {
    try {
      const { problems, tables } = await lintDatabase(loaded.set, opts.database);
      for (const p of problems) console.log(formatProblem(p));
      warnings += problems.length;
      dbNote = `; database: ${tables} table(s) checked, ${problems.length} warning(s)`;
    } catch (e) {
      if (!(e instanceof DatabaseUnavailableError)) throw e;
      console.error(`cdc-invalidator: ${e.message}`);
      return EXIT_CONFIG;
    }
  }
  const set = loaded.set;
  const tables = [...set.tables(), ...set.globs()];
  console.error(`ok: ${set.mappings.length} mapping(s) in ${loaded.files.length} file(s), tables: ${tables.join(', ')}${dbNote}`);
  if (opts.strict && warnings > 0) {
    console.error(`cdc-invalidator: ${warnings} warning(s), and --strict treats warnings as errors`);
    return EXIT_CONFIG;
  }
  return EXIT_OK;
}

/** Writes the JUnit report; false (after saying why) when the file cannot be written. */
async function writeReport(file: string, results: readonly CaseResult[], problems: readonly Problem[]): Promise<boolean> {
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, junitXml({ results, problems }));
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EISDIR' ? 'is a directory' : code === 'ENOTDIR' || code === 'EEXIST' ? 'a parent of it is a file, not a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    console.error(`cdc-invalidator: --junit-report ${file}: cannot write the report: ${why}`);
    return false;
  }
}

export interface TestOptions {
  readonly junitReport?: string;
}

/** Exit 0 when every case passes, 1 when one fails (or there is no test), 78 for invalid mapping or test files. */
export async function testCommand(dir: string, opts: TestOptions = {}): Promise<number> {
  const loaded = await loadMappings(dir);
  const mappingErrors = loaded.problems.filter((p) => p.severity === 'error');
  for (const p of mappingErrors) console.log(formatProblem(p));
  if (!loaded.set) {
    console.error(`cdc-invalidator: the mappings in ${dir} are invalid; no test ran`);
    if (opts.junitReport) await writeReport(opts.junitReport, [], mappingErrors);
    return EXIT_CONFIG;
  }
  const tests = await loadMappingTests(dir);
  for (const p of tests.problems) console.log(formatProblem(p));
  const testErrors = tests.problems.filter((p) => p.severity === 'error');

  const summary = await runMappingTests(tests, loaded.set, decodeDebeziumJson);
  for (const r of summary.results) console.log(formatCaseResult(r).join('\n'));
  for (const m of summary.unexercised) {
    console.log(formatProblem({ ...m.pos, severity: 'warning', message: `mapping "${m.name}" is not exercised: no test case fires it` }));
  }
  if (opts.junitReport && !(await writeReport(opts.junitReport, summary.results, testErrors))) return EXIT_CONFIG;

  const invalid = tests.found.length - tests.files.length;
  console.error(
    `mapping tests: ${summary.passed} passed, ${summary.failed} failed, ${summary.errors} errored` +
      ` in ${tests.files.length} file(s)${invalid > 0 ? `; ${invalid} invalid test file(s) not run` : ''}`,
  );
  if (testErrors.length > 0) return EXIT_CONFIG;
  if (tests.found.length === 0) {
    console.error(`cdc-invalidator: no mapping tests (*.test.yaml) in ${dir}`);
    return EXIT_FAILURE;
  }
  return summary.failed + summary.errors > 0 ? EXIT_FAILURE : EXIT_OK;
}

export function registerMappings(p: Command, setExit: (code: number) => void): void {
  const mappings = p.command('mappings').description('work with mapping files');
  mappings
    .command('validate [dir]')
    .description('check mapping files; prints file:line:col message per problem, exit 78 when invalid')
    .option('--database <url>', 'also check tables, columns and REPLICA IDENTITY against this Postgres (postgres://…); warnings only')
    .option('--strict', 'treat warnings as errors (exit 78)')
    .action(async (dir: string | undefined, opts: ValidateOptions) => setExit(await validateCommand(defaultDir(dir), opts)));
  mappings
    .command('test [dir]')
    .description('run the mapping tests (*.test.yaml beside the mappings); exit 0 all pass, 1 a failure, 78 invalid files')
    .option('--junit-report <file>', 'also write the results as JUnit XML to this file')
    .action(async (dir: string | undefined, opts: TestOptions) => setExit(await testCommand(defaultDir(dir), opts)));
}
