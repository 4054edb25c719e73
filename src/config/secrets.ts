import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

/**
 * A credential from the environment: `NAME` itself, or the contents of the file named by `NAME_FILE`
 * (a Kubernetes Secret or Docker secret mount; one trailing newline is dropped). Never from a flag,
 * so it does not show in `ps` or shell history. Giving both is a configuration error.
 */
export function secretFromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  const hasDirect = direct !== undefined && direct !== '';
  const hasFile = file !== undefined && file !== '';
  if (hasDirect && hasFile) throw new ConfigError(`${name} and ${name}_FILE are both set; give one`);
  if (hasDirect) return direct;
  if (!hasFile) return undefined;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new ConfigError(`${name}_FILE: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** A file a setting points at (a CA bundle, a client certificate or key), read once at start. */
export function fileFromEnv(env: NodeJS.ProcessEnv, name: string, flag?: string): Buffer | undefined {
  const path = flag ?? env[name];
  if (path === undefined || path === '') return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError(`${name}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
