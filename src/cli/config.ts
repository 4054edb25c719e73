import { ConfigError } from '../config/errors.js';

/** A command's config, or undefined after printing why not (the caller exits 78). */
export function configOrReport<T>(resolve: () => T): T | undefined {
  try {
    return resolve();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`cdc-invalidator: ${e.message}`);
    return undefined;
  }
}
