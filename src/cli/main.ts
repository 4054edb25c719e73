#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../config/errors.js';
import { registerExplain } from './explain.js';
import { registerMappings } from './mappings.js';
import { registerReplay } from './replay.js';
import { registerRun } from './run.js';
import { registerTap } from './tap.js';

/** The only place that prints to the console, handles signals and sets the exit code. */

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function program(setExit: (code: number) => void): Command {
  const p = new Command('cdc-invalidator')
    .description('Invalidates Redis cache keys from Debezium change events in Kafka')
    .version(version(), '-V, --version', 'print the version and exit')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  registerRun(p, setExit);
  registerReplay(p, setExit);
  registerTap(p, setExit);
  registerMappings(p, setExit);
  registerExplain(p, setExit);
  // Every subcommand reports usage errors the same way (exit 64, not commander's exit 1).
  for (const c of p.commands) for (const sub of [c, ...c.commands]) sub.exitOverride();
  return p;
}

/**
 * Exit codes: 0 clean, 1 runtime failure, 64 usage error (unknown command or flag, missing
 * argument, no command), 78 invalid configuration (a bad value in a flag, variable or mapping).
 */
function exitCodeOf(e: CommanderError): number {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT_OK;
  // `cdc-invalidator` alone: commander printed the help to stderr (exitCode 1); `--help` asked for it (0).
  if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  return EXIT_USAGE;
}

let exitCode = EXIT_OK;
try {
  await program((c) => (exitCode = c)).parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) exitCode = exitCodeOf(e);
  else {
    console.error(`cdc-invalidator: ${(e as Error).stack ?? String(e)}`);
    exitCode = EXIT_FAILURE;
  }
}
process.exit(exitCode);
