#!/usr/bin/env node
import { Command } from 'commander';
import { EXIT_FAILURE, EXIT_OK } from '../config/errors.js';
import { registerExplain } from './explain.js';
import { registerMappings } from './mappings.js';
import { registerReplay } from './replay.js';
import { registerRun } from './run.js';
import { registerTap } from './tap.js';

/** The only place that prints to the console, handles signals and sets the exit code. */

function program(setExit: (code: number) => void): Command {
  const p = new Command('cdc-invalidator')
    .description('Invalidates Redis cache keys from Debezium change events in Kafka')
    .showHelpAfterError();
  registerRun(p, setExit);
  registerReplay(p, setExit);
  registerTap(p, setExit);
  registerMappings(p, setExit);
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
