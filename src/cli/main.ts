#!/usr/bin/env node
import { Command } from 'commander';
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_OK } from '../config/errors.js';
import { loadMappings } from '../mapping/load.js';
import { formatProblem } from '../mapping/model.js';
import { explainFiles } from './explain.js';
import { registerReplay } from './replay.js';
import { registerRun } from './run.js';
import { registerTap } from './tap.js';

/** The only place that prints to the console, handles signals and sets the exit code. */

async function validateCommand(dir: string): Promise<number> {
  const loaded = await loadMappings(dir);
  for (const p of loaded.problems) console.log(formatProblem(p));
  if (!loaded.set) return EXIT_CONFIG;
  console.error(`ok: ${loaded.set.mappings.length} mapping(s) in ${loaded.files.length} file(s), tables: ${loaded.set.tables().join(', ')}`);
  return EXIT_OK;
}

async function explainCommand(files: string[], opts: { mappings: string; topic?: string }): Promise<number> {
  const loaded = await loadMappings(opts.mappings);
  for (const p of loaded.problems) console.error(formatProblem(p));
  if (!loaded.set) return EXIT_CONFIG;
  const lines = await explainFiles(files, loaded.set, opts.topic);
  for (const line of lines) console.log(JSON.stringify(line));
  return lines.some((l) => l.result === 'error') ? EXIT_FAILURE : EXIT_OK;
}

function program(setExit: (code: number) => void): Command {
  const p = new Command('cdc-invalidator')
    .description('Invalidates Redis cache keys from Debezium change events in Kafka')
    .showHelpAfterError();
  registerRun(p, setExit);
  registerReplay(p, setExit);
  registerTap(p, setExit);
  const mappings = p.command('mappings').description('work with mapping files');
  mappings
    .command('validate [dir]')
    .description('check mapping files; prints file:line:col message per problem, exit 78 when invalid')
    .action(async (dir?: string) => setExit(await validateCommand(dir ?? process.env['MAPPINGS_DIR'] ?? './mappings')));
  p.command('explain <files...>')
    .description('show what each file (one Kafka record value as JSON) would invalidate; needs no Kafka or Redis')
    .option('--mappings <dir>', 'mappings directory', process.env['MAPPINGS_DIR'] ?? './mappings')
    .option('--topic <name>', 'topic the record came from (routes events that carry no source block)')
    .action(async (files: string[], opts: { mappings: string; topic?: string }) => setExit(await explainCommand(files, opts)));
  return p;
}

let exitCode = EXIT_OK;
try {
  await program((c) => (exitCode = c)).parseAsync(process.argv);
} catch (e) {
  console.error(`cdc-invalidator: ${(e as Error).stack ?? String(e)}`);
  exitCode = EXIT_FAILURE;
}
process.exit(exitCode);
