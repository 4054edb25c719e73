import { Option, type Command } from 'commander';
import { attributeName, helpText, settingsOf, type CommandName } from '../config/settings.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** Adds the flags of `command` from the settings table (src/config/settings.ts), help with env names and defaults. */
export function addSettings(cmd: Command, command: CommandName): Command {
  for (const s of settingsOf(command)) {
    if (!s.flag) continue;
    const option = new Option(s.arg ? `--${s.name} ${s.arg}` : `--${s.name}`, helpText(s));
    if (s.name === 'mapping') option.argParser(collect);
    cmd.addOption(option);
    for (const old of s.deprecatedFlags ?? []) {
      cmd.addOption(new Option(s.arg ? `--${old} ${s.arg}` : `--${old}`, `deprecated: use --${s.name}`).hideHelp());
    }
  }
  return cmd;
}

/** The attribute commander stores a flag under. */
export { attributeName };
