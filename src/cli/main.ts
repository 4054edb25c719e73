#!/usr/bin/env node
import { Command } from 'commander';
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_OK } from '../config/errors.js';
import { loadMappings } from '../mapping/load.js';
import { formatProblem } from '../mapping/model.js';
import { registerExplain } from './explain.js';
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
  registerExplain(p, setExit);
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
