import { existsSync } from 'node:fs';
import { getContainerRuntimeClient, type ContainerRuntimeClient } from 'testcontainers';

export type DockerEngine =
  | { readonly ok: true; readonly client: ContainerRuntimeClient; readonly host: string }
  | { readonly ok: false; readonly reason: string };

/** A Docker engine answering within this time, or none. */
const DETECT_TIMEOUT_MS = 20_000;

/**
 * Whether testcontainers can reach a container engine (DOCKER_HOST, the default socket, a Docker Desktop or
 * Podman socket, ~/.testcontainers.properties). Never throws: no engine is a reason, not a failure.
 */
export async function detectDockerEngine(env: NodeJS.ProcessEnv = process.env): Promise<DockerEngine> {
  const where = env['DOCKER_HOST'] ? `DOCKER_HOST=${env['DOCKER_HOST']}` : `DOCKER_HOST unset, /var/run/docker.sock ${existsSync('/var/run/docker.sock') ? 'present' : 'absent'}`;
  let timer: NodeJS.Timeout | undefined;
  try {
    const client = await Promise.race([
      getContainerRuntimeClient(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${DETECT_TIMEOUT_MS / 1000} s`)), DETECT_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, client, host: client.info.containerRuntime.host };
  } catch (e) {
    return { ok: false, reason: `${where}; testcontainers: ${(e as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}
