/** A configuration the worker cannot start with. The CLI exits 78 (EX_CONFIG) on it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 78;
/** A usage error: an unknown command or flag, a missing argument (EX_USAGE). */
export const EXIT_USAGE = 64;
