import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { parse } from 'yaml';
import { ProviderRegistry } from '../core/providers/registry.js';
import type { IdentityProvider, Mapping } from '../core/providers/provider.js';
import type { ThreePid } from '../core/store/port.js';
import { lookupByHash, specHash } from './helpers/hash-app.js';
import { deepMerge, testApp, testConfig } from './helpers/app.js';

const silent = pino({ level: 'silent' });
const alice = { medium: 'email', address: 'alice@example.org' };
const bob = { medium: 'email', address: 'bob@example.org' };

function provider(name: string, priority: number, answer: (threepid: ThreePid, signal: AbortSignal) => Promise<unknown>): IdentityProvider {
  return {
    name, priority,
    capabilities: { media: ['email'], bulk: true, hashSource: false },
    lookup: (threepid, signal) => answer(threepid, signal) as Promise<string | null>,
    bulkLookup: async (threepids, signal) => {
      const found: Mapping[] = [];
      for (const t of threepids) {
        const mxid = await answer(t, signal);
        if (typeof mxid !== 'string') return mxid as Mapping[];
        found.push({ ...t, mxid });
      }
      return found;
    },
  };
}

const working = provider('working', 20, async (t) => `@${t.address.split('@')[0]}:example.org`);

test('providers: one that throws is skipped, counted, and the next one answers', async () => {
  const registry = new ProviderRegistry({ timeout: 1000, log: silent });
  registry.register(provider('broken', 10, async () => { throw new Error('connection refused to alice@example.org'); }));
  registry.register(working);
  assert.deepEqual(await registry.lookup(alice), { ...alice, mxid: '@alice:example.org', provider: 'working' });
  assert.deepEqual(await registry.bulkLookup([alice, bob]), [
    { ...alice, mxid: '@alice:example.org', provider: 'working' },
    { ...bob, mxid: '@bob:example.org', provider: 'working' },
  ]);
  assert.deepEqual(registry.failures.get('broken'), { timeout: 0, error: 2, 'invalid-answer': 0 });
});

test('providers: one that hangs is abandoned at providers.timeout, its signal aborted, and the next one answers', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const registry = new ProviderRegistry({ timeout: 5000, log: silent });
  let aborted = false;
  registry.register(provider('hanging', 10, (_t, signal) => new Promise(() => { signal.addEventListener('abort', () => { aborted = true; }); })));
  registry.register(working);
  const answer = registry.lookup(alice);
  await Promise.resolve();
  t.mock.timers.tick(5000);
  assert.deepEqual(await answer, { ...alice, mxid: '@alice:example.org', provider: 'working' });
  assert.equal(aborted, true);
  assert.equal(registry.failures.get('hanging')?.timeout, 1);
});

test('providers: garbage answers (not a Matrix ID, not a list, a 3PID nobody asked for) are ignored', async () => {
  const registry = new ProviderRegistry({ timeout: 1000, log: silent });
  registry.register(provider('garbage', 10, async () => 42));
  const liar: IdentityProvider = { ...provider('liar', 11, async () => null), name: 'liar', bulkLookup: async () => [{ medium: 'email', address: 'mallory@example.org', mxid: '@mallory:example.org' }] };
  registry.register(liar);
  registry.register(working);
  assert.deepEqual(await registry.lookup(alice), { ...alice, mxid: '@alice:example.org', provider: 'working' });
  assert.deepEqual((await registry.bulkLookup([alice])).map((m) => m.provider), ['working']);
  assert.equal(registry.failures.get('garbage')?.['invalid-answer'], 2);
});

test('providers: priority 0 is reserved for local binds', () => {
  const registry = new ProviderRegistry({ timeout: 1000, log: silent });
  assert.throws(() => registry.register(provider('sneaky', 0, async () => null)), /priority 0 is reserved/);
  registry.register(provider('local', 0, async () => null), { local: true });
  assert.throws(() => registry.register(provider('local', 3, async () => null)), /registered twice/);
});

test('providers: a provider is asked only about the media it declares', async () => {
  const registry = new ProviderRegistry({ timeout: 1000, log: silent });
  let asked = 0;
  registry.register(provider('emails-only', 10, async () => { asked++; return null; }));
  assert.equal(await registry.lookup({ medium: 'msisdn', address: '447700900001' }), null);
  assert.deepEqual(await registry.bulkLookup([{ medium: 'msisdn', address: '447700900001' }]), []);
  assert.equal(asked, 0);
});

test('the tests\' own hash (test/helpers/hash-app.ts) reproduces the spec\'s vectors', () => {
  assert.equal(specHash('alice@example.com', 'email', 'matrixrocks'), '4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc');
  assert.equal(specHash('18005552067', 'msisdn', 'matrixrocks'), 'nlo35_T5fzSGZzJApqu8lgIudJvmOQtDaHtr-I4rU7I');
});

test('memory: a sha256 hash lookup through the running app finds the provider\'s 3PIDs by their normalised hashes, not by the spelling in the config', async (t) => {
  const found = await lookupByHash(t, {
    matrix: { domain: 'example.org' },
    memory: { enabled: true, hashEnabled: true, identities: [{ username: 'alice', threepids: [{ medium: 'email', address: 'Alice@Example.COM' }, { medium: 'msisdn', address: '+44 1632 960000' }] }] },
  }, [
    { medium: 'email', address: 'alice@example.com' }, { medium: 'msisdn', address: '441632960000' },
    // The spelling the config holds is not what a client hashes; an unknown address finds nothing.
    { medium: 'email', address: 'Alice@Example.COM' }, { medium: 'email', address: 'nobody@example.com' },
  ]);
  assert.deepEqual(found, { 'alice@example.com email': '@alice:example.org', '441632960000 msisdn': '@alice:example.org' });
});

/** The ```yaml blocks of a Markdown text. */
const yamlBlocks = (markdown: string) => [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]) as Record<string, unknown>);

test('README: each provider\'s example starts unisd with that provider registered, its hashing on', async () => {
  const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Identity providers\n'), readme.indexOf('\n## Hash lookup\n'));
  const examples = yamlBlocks(section);
  const names = ['memory', 'sql', 'synapseSql', 'ldap', 'exec', 'rest'];
  assert.deepEqual(examples.map((example) => Object.keys(example).find((key) => key !== 'matrix')), names);
  for (const [i, example] of examples.entries()) {
    // Hash tables are not built (that would reach the example hosts): the capability is checked.
    const app = await testApp(deepMerge(example, { hashing: { enabled: false } }));
    try {
      assert.deepEqual(app.providers.list().filter((p) => p.name !== 'local-bindings').map((p) => [p.name, p.capabilities.hashSource]), [[names[i], true]]);
    } finally {
      await app.close();
    }
  }
});

test('the provider plugins\' READMEs: every example configuration loads', () => {
  for (const plugin of ['sql', 'synapse-sql', 'ldap', 'exec', 'rest']) {
    const examples = yamlBlocks(readFileSync(join(import.meta.dirname, `../plugins/${plugin}/README.md`), 'utf8'));
    assert.ok(examples.length > 0, plugin);
    for (const example of examples) assert.doesNotThrow(() => testConfig(deepMerge({ matrix: { domain: 'example.org' } }, example)), plugin);
  }
});
