import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { envName, SETTINGS } from '../../../src/config/settings.js';
import { loadMappings } from '../../../src/mapping/load.js';
import { parseDuration } from '../../../src/util/duration.js';
import { repoRoot } from '../../support/paths.js';

/**
 * deploy/kubernetes read as data (there is no kubectl here): what kustomize would assemble, probes on the
 * health port, PDB selector, grace periods, security context, the mappings ConfigMap and where it mounts.
 */

const root = repoRoot();
const dir = join(root, 'deploy', 'kubernetes');

interface Kustomization {
  resources: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  configMapGenerator: { name: string; literals?: string[]; files?: string[] }[];
}

interface Probe {
  httpGet: { path: string; port: string | number };
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface Volume {
  name: string;
  configMap?: { name: string; items?: { key: string; path: string }[] };
  secret?: { secretName: string };
  emptyDir?: object;
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    maxUnavailable?: number | string;
    minAvailable?: number | string;
    template?: {
      metadata: { labels: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds?: number;
        securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
        containers: Container[];
        volumes?: Volume[];
      };
    };
  };
}

function readYaml<T>(file: string): T[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], `${file}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS() as T);
}

const kustomization = readYaml<Kustomization>(join(dir, 'kustomization.yaml'))[0]!;
const manifests = kustomization.resources.flatMap((r) => readYaml<Manifest>(join(dir, r)));
const deployment = manifests.find((m) => m.kind === 'Deployment')!;
const pdb = manifests.find((m) => m.kind === 'PodDisruptionBudget')!;
const pod = deployment?.spec.template?.spec;
const container = pod?.containers[0];
const envValue = (name: string): string | undefined => container?.env?.find((e) => e.name === name)?.value;
const generator = (name: string) => kustomization.configMapGenerator.find((g) => g.name === name);
const literals = (name: string): Map<string, string> =>
  new Map((generator(name)?.literals ?? []).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));

/** A setting the worker reads: a literal env name in src/, or NAME_FILE of a secret NAME read from env or a file. */
const SOURCE = (function read(d: string): string {
  return readdirSync(d, { withFileTypes: true })
    .map((e) => (e.isDirectory() ? read(join(d, e.name)) : e.name.endsWith('.ts') ? readFileSync(join(d, e.name), 'utf8') : ''))
    .join('\n');
})(join(root, 'src'));
/** A variable of the settings table (src/config/settings.ts), its _FILE form for credentials, or one the source names. */
const TABLE_NAMES = new Set(SETTINGS.filter((s) => s.env).flatMap((s) => [envName(s), ...(s.secret ? [`${envName(s)}_FILE`] : [])]));
const knownSetting = (name: string): boolean => name === 'NODE_OPTIONS' || TABLE_NAMES.has(name) || SOURCE.includes(`'${name}'`);

/** The worker's mappings volume and where CDC_INVALIDATOR_MAPPINGS lands inside it. */
function mappingsMount(): { volume: Volume; mountPath: string; subdir: string } {
  const mappingsDir = envValue('CDC_INVALIDATOR_MAPPINGS') ?? literals('cdc-invalidator-config').get('CDC_INVALIDATOR_MAPPINGS');
  assert.ok(mappingsDir, 'CDC_INVALIDATOR_MAPPINGS is set');
  const mount = container?.volumeMounts?.find((m) => mappingsDir === m.mountPath || mappingsDir.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `no volume is mounted at or above CDC_INVALIDATOR_MAPPINGS ${mappingsDir}`);
  const volume = pod?.volumes?.find((v) => v.name === mount.name);
  assert.ok(volume?.configMap, `the volume at ${mount.mountPath} is a ConfigMap`);
  return { volume, mountPath: mount.mountPath, subdir: posix.relative(mount.mountPath, mappingsDir) };
}

const tmp = mkdtempSync(join(tmpdir(), 'k8s-layout-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('deploy/kubernetes', () => {
  it('kustomization lists a Deployment and a PodDisruptionBudget, every resource parses', () => {
    for (const r of kustomization.resources) assert.ok(existsSync(join(dir, r)), `resource ${r} exists`);
    assert.ok(deployment, 'a Deployment');
    assert.equal(deployment.apiVersion, 'apps/v1');
    assert.ok(pdb, 'a PodDisruptionBudget');
    assert.equal(pdb.apiVersion, 'policy/v1');
    assert.equal(pod?.containers.length, 1);
    assert.ok(kustomization.images?.some((i) => i.name === container?.image), 'the image is set through kustomize images:');
    assert.deepEqual(container?.args, ['run']);
  });

  it('the Deployment selects its own pods, and the PDB selects the same pods', () => {
    const template = deployment.spec.template!.metadata.labels;
    for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) assert.equal(template[k], v, `Deployment selector ${k}`);
    const sel = pdb.spec.selector.matchLabels;
    assert.ok(Object.keys(sel).length > 0);
    for (const [k, v] of Object.entries(sel)) assert.equal(template[k], v, `PDB selector ${k}=${v} matches the pod labels`);
    assert.deepEqual(sel, deployment.spec.selector.matchLabels);
    assert.ok(pdb.spec.maxUnavailable !== undefined || pdb.spec.minAvailable !== undefined);
    assert.ok((deployment.spec.replicas ?? 1) > 1, 'more than one replica, or the PDB blocks every drain');
  });

  it('liveness probes /livez and readiness /readyz on the port CDC_INVALIDATOR_HEALTH_PORT sets', () => {
    const port = Number(envValue('CDC_INVALIDATOR_HEALTH_PORT') ?? literals('cdc-invalidator-config').get('CDC_INVALIDATOR_HEALTH_PORT'));
    assert.ok(port > 0, 'CDC_INVALIDATOR_HEALTH_PORT is set (0 turns the server off)');
    const resolve = (p: string | number): number => (typeof p === 'number' ? p : container?.ports?.find((c) => c.name === p)?.containerPort ?? NaN);
    assert.equal(container?.livenessProbe?.httpGet.path, '/livez');
    assert.equal(container?.readinessProbe?.httpGet.path, '/readyz');
    assert.equal(resolve(container.livenessProbe.httpGet.port), port);
    assert.equal(resolve(container.readinessProbe.httpGet.port), port);
  });

  it('terminationGracePeriodSeconds is longer than CDC_INVALIDATOR_SHUTDOWN_GRACE', () => {
    const grace = envValue('CDC_INVALIDATOR_SHUTDOWN_GRACE') ?? literals('cdc-invalidator-config').get('CDC_INVALIDATOR_SHUTDOWN_GRACE') ?? '10s';
    const period = pod?.terminationGracePeriodSeconds ?? 30;
    assert.ok(period * 1000 > parseDuration(grace), `terminationGracePeriodSeconds ${period} vs CDC_INVALIDATOR_SHUTDOWN_GRACE ${grace}`);
  });

  it('runs non-root with a read-only root filesystem, as the image user', () => {
    const sc = container?.securityContext;
    assert.equal(pod?.securityContext?.runAsNonRoot ?? sc?.runAsNonRoot, true);
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.deepEqual(sc?.capabilities?.drop, ['ALL']);
    const user = /^USER\s+(\d+)/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1];
    assert.equal(String(pod?.securityContext?.runAsUser), user, "runAsUser is the Dockerfile's USER");
  });

  it('has resource requests and limits', () => {
    const r = container?.resources;
    for (const k of ['cpu', 'memory']) assert.ok(r?.requests?.[k], `requests.${k}`);
    assert.ok(r?.limits?.['memory'], 'limits.memory');
    const heap = /--max-old-space-size=(\d+)/.exec(envValue('NODE_OPTIONS') ?? '')?.[1];
    const limitMi = /^(\d+)Mi$/.exec(r?.limits?.['memory'] ?? '')?.[1];
    if (heap && limitMi) assert.ok(Number(heap) < Number(limitMi), 'the V8 heap fits inside the memory limit');
  });

  it('settings come from the generated ConfigMap, credentials as files from a mounted Secret', () => {
    const settings = container?.envFrom?.find((e) => e.configMapRef)?.configMapRef?.name;
    assert.ok(settings && generator(settings), 'envFrom a configMapGenerator ConfigMap');
    const names = [...literals(settings).keys(), ...(container?.env ?? []).map((e) => e.name)];
    for (const n of names) assert.ok(knownSetting(n), `${n} is not a setting the worker reads`);
    for (const [k, v] of literals(settings)) assert.ok(!/PASSWORD$|SECRET|TOKEN/.test(k) || v === '', `${k} is a credential: put it in the Secret`);
    const files = (container?.env ?? []).filter((e) => e.name.endsWith('_FILE'));
    assert.ok(files.some((f) => /PASSWORD_FILE$/.test(f.name)), 'passwords come from *_FILE');
    const secretVolume = pod?.volumes?.find((v) => v.secret);
    assert.ok(secretVolume, 'a Secret volume');
    const mount = container?.volumeMounts?.find((m) => m.name === secretVolume.name);
    assert.ok(mount?.readOnly, 'mounted read-only');
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    for (const f of files) {
      assert.equal(dirname(f.value ?? ''), mount.mountPath, `${f.name} points into the Secret mount`);
      assert.ok(readme.includes(`--from-file=${basename(f.value ?? '')}=`), `README's kubectl create secret names the key ${basename(f.value ?? '')}`);
    }
    assert.ok(readme.includes(`secret generic ${secretVolume.secret!.secretName}`), "README creates the Secret the Deployment mounts");
  });

  it('the mappings ConfigMap is generated from exactly the mapping files of mappings/ and mounted with the same items', () => {
    const { volume } = mappingsMount();
    const gen = generator(volume.configMap!.name);
    assert.ok(gen?.files, `ConfigMap ${volume.configMap!.name} is generated from files`);
    const repoFiles = readdirSync(join(root, 'mappings'))
      .filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f))
      .sort();
    assert.deepEqual(gen.files.map((f) => relative(root, join(dir, f))).sort(), repoFiles.map((f) => join('mappings', f)), 'every mapping file, and no test file');
    const items = volume.configMap!.items ?? [];
    assert.deepEqual(items.map((i) => i.key).sort(), repoFiles, "the volume's items are the generator's keys");
  });

  it('CDC_INVALIDATOR_MAPPINGS, as the kubelet lays the ConfigMap out, loads every mapping exactly once', async () => {
    const { volume, subdir } = mappingsMount();
    // The kubelet's atomic writer: files in a hidden timestamped directory, ..data pointing at it, and a
    // symlink at the volume root for each item path's first segment.
    const ts = '..2026_11_27_09_00_00.000000001';
    const items = volume.configMap!.items ?? [];
    for (const item of items) {
      const target = join(tmp, ts, item.path);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(join(root, 'mappings', item.key), target);
    }
    symlinkSync(ts, join(tmp, '..data'));
    for (const top of new Set(items.map((i) => i.path.split('/')[0]!))) symlinkSync(join('..data', top), join(tmp, top));
    assert.notEqual(subdir, '', 'CDC_INVALIDATOR_MAPPINGS is a subdirectory of the mount, not the volume root with its ..data entries');
    const loaded = await loadMappings(join(tmp, subdir));
    assert.deepEqual(loaded.problems.filter((p) => p.severity === 'error'), []);
    assert.equal(loaded.files.length, items.length);
    const direct = await loadMappings(join(root, 'mappings'));
    assert.equal(loaded.set?.mappings.length, direct.set?.mappings.length);
  });
});
