import { ConfigError } from '../config/errors.js';
import { resolveRunConfig, type RunConfig, type RunFlags } from '../config/run-config.js';

/** The run config, or undefined after printing why not (the caller exits 78). */
export function configOrReport(flags: RunFlags): RunConfig | undefined {
  try {
    return resolveRunConfig(flags);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`cdc-invalidator: ${e.message}`);
    return undefined;
  }
}
