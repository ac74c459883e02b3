/**
 * Loads the configuration: schema defaults, then the YAML file (`-c file` or UNISD_CONFIG),
 * then UNISD_* environment variables; validated strictly. Every failure is a ConfigError whose
 * message is one line naming the file, the key and what was expected.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import convict from 'convict';
import { parseDocument, isMap, isScalar, isPair, type Document } from 'yaml';
import { schema, validatePolicies } from './schema.js';

export type Config = ReturnType<ReturnType<typeof createConvict>['getProperties']>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadOptions {
  /** YAML file to read; when absent, env.UNISD_CONFIG if set, else defaults only. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values applied after the file and before the environment (used by tests and tools). */
  overrides?: Record<string, unknown>;
}

/** `hashing.pepperLength` → `UNISD_HASHING_PEPPER_LENGTH`. */
export function envName(path: string): string {
  return 'UNISD_' + path.split('.').map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

function withEnvNames<T extends object>(node: T, path: string[] = []): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    const childPath = [...path, key];
    if (value && typeof value === 'object' && 'doc' in value && 'default' in value) {
      out[key] = { ...value, env: envName(childPath.join('.')) };
    } else {
      out[key] = withEnvNames(value as object, childPath);
    }
  }
  return out as T;
}

function createConvict(env: NodeJS.ProcessEnv = {}) {
  return convict(withEnvNames(schema), { env, args: [] });
}

/** All leaf keys of the schema with their doc, for `unisd config keys` and the docs. */
export function schemaKeys(): Array<{ key: string; env: string; doc: string; default: unknown }> {
  const keys: Array<{ key: string; env: string; doc: string; default: unknown }> = [];
  const walk = (node: Record<string, any>, path: string[]) => {
    for (const [name, value] of Object.entries(node)) {
      const p = [...path, name];
      if (value && typeof value === 'object' && 'doc' in value && 'default' in value) {
        keys.push({ key: p.join('.'), env: envName(p.join('.')), doc: value.doc, default: value.default });
      } else walk(value, p);
    }
  };
  walk(schema, []);
  return keys;
}

/**
 * YAML reads `version: 1.0` as the number 1; a policy version is text, so it is taken from the
 * source exactly as the operator wrote it.
 */
function keepPolicyVersionsAsWritten(doc: Document, source: string, data: any): void {
  const policies = doc.getIn(['policy', 'policies'], true);
  if (!isMap(policies)) return;
  for (const item of policies.items) {
    if (!isPair(item) || !isScalar(item.key) || !isMap(item.value)) continue;
    const version = item.value.get('version', true);
    if (isScalar(version) && typeof version.value === 'number' && version.range) {
      data.policy.policies[String(item.key.value)].version = source.slice(version.range[0], version.range[1]).trim();
    }
  }
}

function readYaml(file: string): Record<string, unknown> {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config error: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const doc = parseDocument(source, { prettyErrors: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const line = err.linePos?.[0]?.line;
    throw new ConfigError(`config error in ${file}${line ? ` line ${line}` : ''}: invalid YAML: ${err.message.split('\n')[0]}`);
  }
  const data = doc.toJS() ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(`config error in ${file}: expected a map of sections at the top level`);
  keepPolicyVersionsAsWritten(doc, source, data);
  return data;
}

/** Turns one of convict's messages into "<key>: expected …". */
function describeProblem(message: string, env: NodeJS.ProcessEnv): string {
  const undeclared = /configuration param '([^']+)' not declared in the schema/.exec(message);
  if (undeclared) {
    const key = undeclared[1];
    const section = key.split('.').slice(0, -1).join('.');
    const known = schemaKeys().filter((k) => k.key.startsWith(section ? section + '.' : '')).map((k) => k.key.slice(section ? section.length + 1 : 0).split('.')[0]);
    return `${key}: unknown key${known.length ? `, expected one of ${[...new Set(known)].join(', ')}` : ''}`;
  }
  const match = /^([\w.]+): (.*?)(?:: value was (.*))?$/s.exec(message);
  if (!match) return message;
  const [, key, expected, got] = match;
  const fromEnv = env[envName(key)] !== undefined ? ` (from ${envName(key)})` : '';
  return `${key}: ${expected.replace(/^must be/, 'expected')}${got !== undefined ? `, got ${got.length > 80 ? got.slice(0, 77) + '...' : got}` : ''}${fromEnv}`;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.UNISD_CONFIG;
  const where = file ? ` in ${resolve(file)}` : '';
  const config = createConvict();
  try {
    if (file) config.load(readYaml(file));
    if (options.overrides) config.load(options.overrides);
    // The environment wins over the file: read it (coerced by the schema) and apply it last.
    const fromEnv = createConvict(env);
    for (const { key, env: name } of schemaKeys()) {
      if (env[name] !== undefined) config.set(key as never, fromEnv.get(key as never));
    }
    config.validate({ allowed: 'strict' });
    try {
      validatePolicies(config.get('policy.policies'));
    } catch (err) {
      throw new ConfigError(`config error${where}: policy.policies.${(err as Error).message}`);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const problems = String((err as Error).message).split('\n').filter(Boolean);
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    throw new ConfigError(`config error${where}: ${describeProblem(problems[0], env)}${more}`);
  }
  return config.getProperties();
}

/** The effective configuration as YAML-ready data with every sensitive value masked. */
export function maskedConfig(config: Config): Record<string, unknown> {
  const copy = structuredClone(config) as Record<string, any>;
  const walk = (node: Record<string, any>, target: Record<string, any>) => {
    for (const [name, value] of Object.entries(node)) {
      if (value && typeof value === 'object' && 'doc' in value && 'default' in value) {
        if (value.sensitive && target[name]) target[name] = '********';
      } else if (target[name] && typeof target[name] === 'object') walk(value, target[name]);
    }
  };
  walk(schema, copy);
  return copy;
}
