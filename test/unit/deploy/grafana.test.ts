import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parse } from 'yaml';
import { Stats } from '../../../src/telemetry/stats.js';
import { repoRoot } from '../../support/paths.js';

/**
 * The Grafana dashboard and the Prometheus alerts name metrics and labels as strings; nothing else
 * would notice when src/telemetry/stats.ts renames one. Every metric and label they use must be one
 * stats.ts declares (or a default process metric, or Prometheus' own `up`).
 */

const root = repoRoot();
const PREFIX = 'cdc_invalidator_';
/** Labels Prometheus attaches to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];

interface MetricInfo {
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labels: readonly string[];
}

function quoted(list: string): string[] {
  return [...list.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2] ?? '');
}

/** Metric names, types and labels as declared in the text of src/telemetry/stats.ts. */
function declaredMetrics(source: string): Map<string, MetricInfo> {
  const metrics = new Map<string, MetricInfo>();
  // Counters: `{ name: 'x', help: ..., labels: [...] }`, exported as cdc_invalidator_<name>_total.
  assert.ok(source.includes('name: `cdc_invalidator_${c.name}_total`'), 'stats.ts no longer names counters cdc_invalidator_<name>_total: update this test');
  for (const m of source.matchAll(/\{\s*name:\s*'([a-z0-9_]+)',\s*help:\s*(?:'[^']*'|"[^"]*"),\s*labels:\s*\[([^\]]*)\]\s*\}/g)) {
    metrics.set(`${PREFIX}${m[1]}_total`, { type: 'counter', labels: quoted(m[2] ?? '') });
  }
  for (const m of source.matchAll(/new (Histogram|Gauge)\(\{([\s\S]*?)\}\)/g)) {
    const body = m[2] ?? '';
    const name = /name:\s*'([^']+)'/.exec(body)?.[1];
    assert.ok(name, `a ${m[1]} in stats.ts without a literal name: update this test`);
    const labels = quoted(/labelNames:\s*\[([^\]]*)\]/.exec(body)?.[1] ?? '');
    metrics.set(name, { type: m[1] === 'Histogram' ? 'histogram' : 'gauge', labels });
  }
  return metrics;
}

const statsSource = readFileSync(join(root, 'src', 'telemetry', 'stats.ts'), 'utf8');
const declared = declaredMetrics(statsSource);

/** Every series name a query may use, with the labels it carries (target labels included). */
async function knownSeries(): Promise<Map<string, Set<string>>> {
  const known = new Map<string, Set<string>>();
  for (const [name, info] of declared) {
    if (info.type === 'histogram') {
      known.set(`${name}_bucket`, new Set([...TARGET_LABELS, ...info.labels, 'le']));
      known.set(`${name}_sum`, new Set([...TARGET_LABELS, ...info.labels]));
      known.set(`${name}_count`, new Set([...TARGET_LABELS, ...info.labels]));
    } else {
      known.set(name, new Set([...TARGET_LABELS, ...info.labels]));
    }
  }
  // Default process metrics exactly as src/cli/run.ts registers them (cdc_invalidator_process_* …).
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  for (const metric of await registry.getMetricsAsJSON()) {
    const labels = new Set(TARGET_LABELS);
    for (const v of metric.values as { labels: Record<string, unknown> }[]) for (const l of Object.keys(v.labels)) labels.add(l);
    if (String(metric.type) === 'histogram') {
      labels.delete('le');
      known.set(`${metric.name}_bucket`, new Set([...labels, 'le']));
      known.set(`${metric.name}_sum`, labels);
      known.set(`${metric.name}_count`, labels);
    } else {
      known.set(metric.name, labels);
    }
  }
  known.set('up', new Set(TARGET_LABELS));
  return known;
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects. */
function metricNames(expr: string): string[] {
  const s = expr
    .replace(/#.*$/gm, '')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/(?<![\w:.])\d[\w.]*/g, ' ');
  const names: string[] = [];
  for (const m of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    if (/^\s*\(/.test(s.slice(m.index + m[0].length))) continue; // a function or an aggregation
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

/** The label names an expression matches on or groups by. */
function labelNames(expr: string): string[] {
  const s = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const labels: string[] = [];
  for (const m of s.matchAll(/\{([^}]*)\}/g)) for (const l of (m[1] ?? '').matchAll(/([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.push(l[1]!);
  for (const m of s.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    labels.push(...(m[1] ?? '').split(',').map((l) => l.trim()).filter((l) => l !== ''));
  }
  return labels;
}

interface Query {
  readonly where: string;
  readonly expr: string;
  /** Labels the query's result is presented with: {{x}} of a legend, $labels.x of an annotation. */
  readonly shown: readonly string[];
}

/** The metric names of an expression that no declared metric has, and the labels none of them carries. */
function problems(q: Query, known: Map<string, Set<string>>): string[] {
  const out: string[] = [];
  const names = metricNames(q.expr);
  if (names.length === 0) out.push(`${q.where}: no metric found in ${JSON.stringify(q.expr)}`);
  const allowed = new Set<string>();
  for (const n of names) {
    const labels = known.get(n);
    if (!labels) out.push(`${q.where}: unknown metric ${n}`);
    else for (const l of labels) allowed.add(l);
  }
  if (out.length > 0) return out; // an unknown metric: its labels cannot be checked
  for (const l of [...labelNames(q.expr), ...q.shown]) {
    if (!allowed.has(l)) out.push(`${q.where}: label "${l}" is on none of ${[...new Set(names)].join(', ')}`);
  }
  return out;
}

interface Target {
  expr?: string;
  legendFormat?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  type: string;
  name: string;
  query: unknown;
  definition?: string;
  datasource?: { type?: string; uid?: string };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'cdc-invalidator.json'), 'utf8')) as Dashboard;
const alertsPath = join(root, 'deploy', 'prometheus', 'alerts.yaml');
const alerts = parse(readFileSync(alertsPath, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const rules = alerts.groups.flatMap((g) => g.rules);
const readme = readFileSync(join(root, 'deploy', 'grafana', 'README.md'), 'utf8');

function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}
const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
const legendLabels = (format: string | undefined): string[] => [...(format ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!);

function dashboardQueries(): Query[] {
  const queries: Query[] = [];
  for (const p of panels) {
    for (const t of p.targets ?? []) {
      queries.push({ where: `panel "${p.title}" ${t.refId ?? ''}`, expr: t.expr ?? '', shown: legendLabels(t.legendFormat) });
    }
  }
  for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
    const text = typeof v.query === 'string' ? v.query : String((v.query as { query?: unknown }).query);
    for (const q of new Set([text, v.definition ?? text])) {
      const m = /^label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)$/.exec(q);
      assert.ok(m, `variable ${v.name}: expected label_values(<selector>, <label>), got ${q}`);
      queries.push({ where: `variable ${v.name}`, expr: m[1]!, shown: [m[2]!] });
    }
  }
  return queries;
}

function alertQueries(): Query[] {
  return rules.map((r) => ({
    where: `rule ${r.alert ?? r.record}`,
    expr: r.expr,
    shown: Object.values(r.annotations ?? {}).flatMap((a) => [...a.matchAll(/\$labels\.(\w+)/g)].map((m) => m[1]!)),
  }));
}

describe('metrics declared in src/telemetry/stats.ts', () => {
  it('are read from the source text as the registry exports them', async () => {
    const registry = new Registry();
    new Stats(registry);
    const exported = (await registry.getMetricsAsJSON()).map((m) => `${m.name} ${String(m.type)}`).sort();
    const read = [...declared].map(([name, info]) => `${name} ${info.type}`).sort();
    assert.deepEqual(read, exported, 'the extraction from stats.ts disagrees with what Stats registers: update declaredMetrics() in this test');
  });

  it('the PromQL helpers find metric and label names', () => {
    assert.deepEqual(
      metricNames('sum by (code, job) (increase(a_total{job=~"$job", x="y{z}"}[10m])) > 0 or b unless c offset 10m and on (job) d > bool 1e3'),
      ['a_total', 'b', 'c', 'd'],
    );
    assert.deepEqual(metricNames('histogram_quantile(0.99, sum(rate(h_bucket{a="1"}[$__rate_interval])) by (le))'), ['h_bucket']);
    assert.deepEqual(labelNames('sum by (code, job) (a{job=~"$job", x!="y"}) / ignoring(le) b'), ['job', 'x', 'code', 'job', 'le']);
  });

  it('a renamed metric or label would be caught', async () => {
    const known = await knownSeries();
    assert.notDeepEqual(problems({ where: 't', expr: 'rate(cdc_invalidator_commit_total[5m])', shown: [] }, known), []);
    assert.notDeepEqual(problems({ where: 't', expr: 'sum by (kind, stage) (rate(cdc_invalidator_invalidations_total[5m]))', shown: [] }, known), []);
    assert.notDeepEqual(problems({ where: 't', expr: 'cdc_invalidator_paused', shown: ['topic'] }, known), []);
    assert.deepEqual(problems({ where: 't', expr: 'histogram_quantile(0.5, sum by (le, op) (rate(cdc_invalidator_redis_command_duration_seconds_bucket[5m])))', shown: ['op'] }, known), []);
  });
});

describe('Grafana dashboard deploy/grafana/cdc-invalidator.json', () => {
  it('uses only metrics and labels stats.ts declares (or default process metrics)', async () => {
    const known = await knownSeries();
    const queries = dashboardQueries();
    assert.ok(queries.length >= 15, `only ${queries.length} queries`);
    assert.deepEqual(queries.flatMap((q) => problems(q, known)), []);
  });

  it('is schema 39 with a Prometheus datasource variable and job/instance variables', () => {
    assert.equal(dashboard.schemaVersion, 39);
    assert.equal(dashboard.uid, 'cdc-invalidator');
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    assert.equal(vars.get('datasource')?.type, 'datasource');
    assert.equal(vars.get('datasource')?.query, 'prometheus');
    for (const name of ['job', 'instance']) {
      assert.equal(vars.get(name)?.type, 'query', name);
      assert.deepEqual(vars.get(name)?.datasource, { type: 'prometheus', uid: '${datasource}' }, name);
    }
  });

  it('queries every panel through the datasource variable, filtered by $job and $instance', () => {
    for (const p of panels) {
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
      assert.ok((p.targets ?? []).length > 0, `${p.title}: no targets`);
      for (const t of p.targets ?? []) {
        assert.deepEqual(t.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
        const expr = t.expr ?? '';
        const selectors = expr.match(/cdc_invalidator_\w+/g) ?? [];
        const filtered = expr.match(/cdc_invalidator_\w+\{[^}]*job=~"\$job"[^}]*instance=~"\$instance"[^}]*\}/g) ?? [];
        assert.equal(filtered.length, selectors.length, `${p.title}: every selector filters job=~"$job", instance=~"$instance": ${expr}`);
      }
    }
  });

  it('has unique panel ids and a layout without overlaps', () => {
    const all = allPanels(dashboard.panels);
    assert.equal(new Set(all.map((p) => p.id)).size, all.length);
    for (const [i, a] of all.entries()) {
      assert.ok(a.gridPos.x >= 0 && a.gridPos.x + a.gridPos.w <= 24, `${a.title} is wider than the grid`);
      for (const b of all.slice(i + 1)) {
        const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
        assert.ok(!overlap, `${a.title} overlaps ${b.title}`);
      }
    }
  });

  it('has the panels operators look for', () => {
    const uses = (metric: string, ...labels: string[]) =>
      panels.some((p) => (p.targets ?? []).some((t) => (t.expr ?? '').includes(metric) && labels.every((l) => labelNames(t.expr ?? '').includes(l) || legendLabels(t.legendFormat).includes(l))));
    assert.ok(uses('cdc_invalidator_events_total', 'table', 'op'));
    assert.ok(uses('cdc_invalidator_invalidations_total', 'kind', 'pass'));
    assert.ok(uses('cdc_invalidator_invalidation_lag_seconds_bucket', 'le'));
    assert.ok(uses('cdc_invalidator_redis_command_duration_seconds_bucket', 'le', 'op'));
    assert.ok(uses('cdc_invalidator_consumer_lag', 'topic', 'partition'));
    assert.ok(uses('cdc_invalidator_pending_second_deletes'));
    assert.ok(uses('cdc_invalidator_poison_records_total', 'code'));
    assert.ok(uses('cdc_invalidator_templates_skipped_total', 'mapping', 'reason'));
    assert.ok(uses('cdc_invalidator_commits_total'));
    assert.ok(uses('cdc_invalidator_first_pass_hits_total', 'mapping'));
    assert.ok(uses('cdc_invalidator_second_pass_removals_total', 'mapping'));
    assert.ok(uses('cdc_invalidator_redis_retries_total'));
    assert.ok(uses('cdc_invalidator_process_resident_memory_bytes'));
    assert.ok(uses('cdc_invalidator_process_cpu_seconds_total'));
    assert.ok(panels.some((p) => p.type === 'stat' && (p.targets ?? []).some((t) => (t.expr ?? '').includes('cdc_invalidator_paused'))), 'a Paused stat');
    const lag = panels.find((p) => (p.targets ?? []).some((t) => (t.expr ?? '').includes('invalidation_lag_seconds_bucket')));
    const quantiles = (lag?.targets ?? []).map((t) => /histogram_quantile\(\s*([\d.]+)/.exec(t.expr ?? '')?.[1]);
    assert.deepEqual(quantiles, ['0.5', '0.99']);
  });

  it('describes every panel in the README', () => {
    for (const p of panels) assert.ok(readme.includes(p.title), `README.md does not mention the panel "${p.title}"`);
  });
});

describe('Prometheus alerts deploy/prometheus/alerts.yaml', () => {
  it('uses only metrics and labels stats.ts declares (or up)', async () => {
    const known = await knownSeries();
    assert.deepEqual(alertQueries().flatMap((q) => problems(q, known)), []);
  });

  it('has the six alerts, each with a severity, summary, description and a runbook in the README', () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    const expected: [string, string | undefined][] = [
      ['CdcInvalidatorInvalidationLagHigh', '5m'],
      ['CdcInvalidatorConsumerLagGrowing', '5m'],
      ['CdcInvalidatorPoisonRecords', undefined],
      ['CdcInvalidatorPaused', '2m'],
      ['CdcInvalidatorNoCommits', '10m'],
      ['CdcInvalidatorDown', '2m'],
    ];
    assert.deepEqual([...byName.keys()].sort(), expected.map(([n]) => n).sort());
    const anchors = new Set([...readme.matchAll(/^#+\s+(.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
    for (const [name, forDuration] of expected) {
      const r = byName.get(name)!;
      assert.equal(r.for, forDuration, `${name}: for`);
      assert.match(r.labels?.severity ?? '', /^(warning|critical)$/, `${name}: severity`);
      for (const a of ['summary', 'description', 'runbook']) assert.ok((r.annotations?.[a] ?? '').trim().length > 20, `${name}: annotation ${a}`);
      const anchor = /README\.md#([\w-]+)/.exec(r.annotations?.runbook ?? '')?.[1];
      assert.ok(anchor && anchors.has(anchor), `${name}: runbook points at README.md#${anchor}, which is no heading there`);
      assert.ok(readme.includes(name), `README.md does not mention ${name}`);
    }
    assert.match(byName.get('CdcInvalidatorInvalidationLagHigh')!.expr, /histogram_quantile\(0\.99,[\s\S]*cdc_invalidator_invalidation_lag_seconds_bucket[\s\S]*\)\s*>\s*5\s*$/);
    assert.match(byName.get('CdcInvalidatorConsumerLagGrowing')!.expr, /deriv\(cdc_invalidator_consumer_lag\[10m\]\)\s*>\s*0[\s\S]*cdc_invalidator_consumer_lag\s*>\s*1000/);
    assert.match(byName.get('CdcInvalidatorPoisonRecords')!.expr, /increase\(cdc_invalidator_poison_records_total\[10m\]\)\)\s*>\s*0/);
    assert.match(byName.get('CdcInvalidatorPaused')!.expr, /cdc_invalidator_paused\)?\s*==\s*1/);
    assert.match(byName.get('CdcInvalidatorDown')!.expr, /^up\{[^}]*\}\s*==\s*0\s*$/);
  });

  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  const skip = promtool.error || promtool.status !== 0 ? 'promtool is not installed (apt-get install prometheus)' : false;

  it('passes promtool check rules and promtool test rules', { skip }, () => {
    const dir = join(root, 'deploy', 'prometheus');
    for (const args of [['check', 'rules', 'alerts.yaml'], ['test', 'rules', 'alerts.test.yaml']]) {
      const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
    }
  });
});
