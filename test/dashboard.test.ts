/**
 * docs/grafana-dashboard.json against a running app: every PromQL expression parses (Prometheus'
 * own grammar, @prometheus-io/lezer-promql) and every metric it queries is declared on /metrics.
 * The app runs the optional plugins whose metrics the dashboard shows (MSC4004 hub and member:
 * not listening, so the member pushes nowhere).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { families, metricsApp, scrape } from './helpers/metrics.js';

const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, '../docs/grafana-dashboard.json'), 'utf8'));

interface Query { where: string; expr: string }

/** Every query of the dashboard: the panels' targets (rows' nested panels too) and the template variables'. */
function queries(): Query[] {
  const found: Query[] = [];
  const visit = (panels: any[]) => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) found.push({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr });
      visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  for (const variable of dashboard.templating.list) {
    // label_values(metric, label) is Grafana's, not PromQL: its metric is queried all the same.
    const labelValues = /^label_values\((\w+),\s*\w+\)$/.exec(variable.query?.query ?? '');
    if (labelValues) found.push({ where: `variable $${variable.name}`, expr: labelValues[1] });
  }
  return found;
}

/** Grafana's variables, replaced by what Grafana would send. */
const interpolated = (expr: string): string => expr.replaceAll('$__rate_interval', '5m').replace(/\$\{?(\w+)\}?/g, '.*');

/** The metric names an expression selects; throws on a syntax error (with where it is). */
function metricNames(expr: string): string[] {
  const names: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) throw new Error(`syntax error at ${node.from}: …${expr.slice(node.from, node.from + 20)}`);
      if (node.name === 'VectorSelector') {
        const name = node.node.getChild('Identifier');
        if (name) names.push(expr.slice(name.from, name.to));
      }
    },
  });
  return names;
}

/** A histogram's series name its family: x_bucket, x_sum, x_count → x. */
const family = (name: string, declared: Map<string, string>): string | undefined => {
  if (declared.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return declared.get(base) === 'histogram' ? base : undefined;
};

test('dashboard: every expression is valid PromQL and selects at least one metric', () => {
  const all = queries();
  assert.ok(all.length >= 15, `the dashboard has its queries (${all.length})`);
  for (const { where, expr } of all) {
    let names: string[] = [];
    assert.doesNotThrow(() => { names = metricNames(interpolated(expr)); }, `${where}: ${expr}`);
    assert.ok(names.length > 0, `${where} selects no metric: ${expr}`);
  }
});

test('dashboard: the expression checker finds syntax errors and the metrics selected', () => {
  assert.throws(() => metricNames('sum(rate(unisd_http_requests_total[5m])'), /syntax error/);
  assert.deepEqual(metricNames(interpolated('histogram_quantile(0.99, sum by (le) (rate(a_bucket{x=~"$instance"}[$__rate_interval]))) / b')), ['a_bucket', 'b']);
});

test('dashboard: every metric it queries is declared on /metrics of a running app', async (t) => {
  const app = await metricsApp({
    unifiedView: { enabled: true, members: [{ server: 'member.example.test', secret: 'a-member-secret-0123456789' }] },
    unifiedViewPush: { enabled: true, hubs: [{ url: 'https://hub.example.test', server: 'hub.example.test', auth: 'signature' }] },
  });
  t.after(() => app.close());
  await app.inject('/_unisd/health');
  const declared = families(await scrape(app));
  const missing = [...new Set(queries().flatMap(({ expr }) => metricNames(interpolated(expr))))].filter((name) => !family(name, declared));
  assert.deepEqual(missing, [], 'queried by docs/grafana-dashboard.json but not on /metrics');
});
