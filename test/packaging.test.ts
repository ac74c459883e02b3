/**
 * Packaging checks that need no Docker daemon or systemd: the Dockerfile copies files that exist
 * and follows the README's production steps; the systemd unit runs the command the README documents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const readme = read('README.md');
const packageJson = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string> };
const outDir = (JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir: string } }).compilerOptions.outDir;

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): Array<{ op: string; args: string }> {
  return text.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'))
    .map((line) => { const [op, ...rest] = line.split(/\s+/); return { op: op!.toUpperCase(), args: rest.join(' ') }; });
}

/** The Dockerfile's stages: name (or index) → its instructions. */
function stages(text: string): Array<{ name: string; base: string; steps: Array<{ op: string; args: string }> }> {
  const out: Array<{ name: string; base: string; steps: Array<{ op: string; args: string }> }> = [];
  for (const step of instructions(text)) {
    if (step.op === 'FROM') {
      const [base, as, name] = step.args.split(/\s+/);
      out.push({ name: as?.toUpperCase() === 'AS' ? name! : String(out.length), base: base!, steps: [] });
    } else out.at(-1)!.steps.push(step);
  }
  return out;
}

const dockerfile = read('Dockerfile');
const dockerStages = stages(dockerfile);
const finalStage = dockerStages.at(-1)!;
const dockerignore = read('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));

test('Dockerfile: every file copied from the build context exists and is not excluded by .dockerignore', () => {
  const copies = dockerStages.flatMap((stage) => stage.steps).filter((step) => step.op === 'COPY' && !step.args.includes('--from='));
  assert.ok(copies.length >= 5);
  for (const copy of copies) {
    const paths = copy.args.split(/\s+/).filter((word) => !word.startsWith('--'));
    for (const source of paths.slice(0, -1)) {
      assert.ok(existsSync(join(root, source)), `COPY ${source}: no such file in the repository`);
      assert.ok(!dockerignore.includes(source), `COPY ${source}: excluded by .dockerignore`);
    }
  }
});

test('Dockerfile: the README\'s production steps in stages; the final image holds the compiled build and production dependencies only', () => {
  const runs = (name: string) => dockerStages.find((stage) => stage.name === name)!.steps.filter((step) => step.op === 'RUN').map((step) => step.args);
  assert.deepEqual(runs('build'), ['npm ci --no-audit --no-fund', 'npm run build']);
  assert.deepEqual(runs('runtime-deps'), ['npm ci --omit=dev --no-audit --no-fund']);
  for (const step of ['npm ci ', 'npm run build', 'npm ci --omit=dev', 'node dist/core/cli.js -c config.yaml']) assert.ok(readme.includes(step), `README documents ${step}`);
  assert.equal(packageJson.scripts.build, 'tsc -p tsconfig.build.json');

  const fromStages = finalStage.steps.filter((step) => step.op === 'COPY' && step.args.includes('--from=')).map((step) => step.args);
  assert.deepEqual(fromStages, ['--from=runtime-deps /app/node_modules ./node_modules', `--from=build /src/${outDir} ./${outDir}`]);
  assert.ok(!finalStage.steps.some((step) => step.op === 'RUN' && /\bnpm\b/.test(step.args)), 'no npm install in the final image');
  assert.match(finalStage.base, /^node:20(-|$)/, 'Node 20, as package.json engines');
});

test('Dockerfile: runs as a non-root user, state in the /data volume, HEALTHCHECK on /_unisd/health, the command the package declares', () => {
  const last = (op: string) => finalStage.steps.filter((step) => step.op === op).at(-1)?.args;
  assert.equal(last('USER'), 'node');
  assert.equal(last('VOLUME'), '/data');
  const env = finalStage.steps.filter((step) => step.op === 'ENV').map((step) => step.args).join(' ');
  assert.match(env, /UNISD_STORAGE_SQLITE_PATH=\/data\//);
  assert.match(env, /UNISD_KEYS_PATH=\/data\//);
  assert.match(last('HEALTHCHECK')!, /\/_unisd\/health/);
  const entrypoint = JSON.parse(last('ENTRYPOINT')!) as string[];
  assert.deepEqual(entrypoint, ['node', packageJson.bin.unisd]);
  assert.equal(packageJson.bin.unisd, `${outDir}/core/cli.js`);
  assert.ok(existsSync(join(root, 'core/cli.ts')), 'dist/core/cli.js is compiled from core/cli.ts');
});

/** A unit file's [Service] settings; repeated keys keep every value. */
function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) { section = header[1]!; continue; }
    const [key, ...value] = line.split('=');
    const name = `${section}.${key}`;
    settings.set(name, [...(settings.get(name) ?? []), value.join('=')]);
  }
  return settings;
}

test('systemd unit: its ExecStart is the command the README documents, run as a non-root user in its StateDirectory', () => {
  const unit = unitSettings(read('contrib/unisd.service'));
  const one = (key: string) => { const values = unit.get(`Service.${key}`); assert.equal(values?.length, 1, key); return values![0]!; };
  const execStart = one('ExecStart');
  assert.ok(readme.includes(execStart), `README documents ${execStart}`);
  const [node, script, flag, configFile] = execStart.split(' ');
  assert.equal(node, '/usr/bin/node');
  assert.ok(script!.endsWith(`/${packageJson.bin.unisd}`), script);
  assert.deepEqual([flag, configFile], ['-c', '/etc/unisd/unisd.yaml']);
  assert.ok(readme.includes(`cp -a package.json package-lock.json config dist ${script!.slice(0, -packageJson.bin.unisd.length - 1)}/`), 'the README installs the build where the unit runs it');

  assert.equal(one('User'), 'unisd');
  assert.ok(readme.includes('useradd --system'), 'the README creates that user');
  assert.equal(one('WorkingDirectory'), `/var/lib/${one('StateDirectory')}`);
  assert.equal(one('Restart'), 'on-failure');
  for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['PrivateDevices', 'yes'], ['CapabilityBoundingSet', ''], ['RestrictSUIDSGID', 'yes']]) {
    assert.equal(one(key!), value, key);
  }
  assert.deepEqual(unit.get('Install.WantedBy'), ['multi-user.target']);
});
