/**
 * Loads the configuration: schema defaults, then the YAML file (`-c file` or UNISD_CONFIG),
 * then UNISD_* environment variables (they win over the file); validated strictly. The schema
 * is the core's sections (./schema.ts) plus every plugin manifest's; `loadConfiguration` first
 * imports the external plugins named by `plugins.modules`. Every failure is a ConfigError whose
 * message is one line naming where the value came from (file and line, or environment
 * variable), the key, and what was expected.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import convict from 'convict';
import { LineCounter, parseDocument, isMap, isPair, isScalar, isSeq, type Document } from 'yaml';
import { schema } from './schema.js';
import { commaList, describeFormat, isPlainObject, type ConfigKey } from './formats.js';
import { formatDuration } from './duration.js';
import type { Config } from './types.js';
import type { ConfigSection, PluginManifest } from '../plugin/manifest.js';
import { checkPlugins, importPluginModules } from '../plugin/loader.js';
import { BUILTIN_PLUGINS } from '../plugins.js';

export type { Config } from './types.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadOptions {
  /** YAML file to read; when absent, env.UNISD_CONFIG if set, else defaults only. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values applied after the file and before the environment (used by tests and tools). */
  overrides?: Record<string, unknown>;
  /** The plugin manifests whose sections join the core's; default the built-in ones. */
  plugins?: readonly PluginManifest[];
}

type Section = ConfigSection;

const isKey = (node: unknown): node is ConfigKey =>
  typeof node === 'object' && node !== null && 'doc' in node && 'default' in node;

/** `hashing.pepperLength` → `UNISD_HASHING_PEPPER_LENGTH`. */
export function envName(key: string): string {
  return 'UNISD_' + key.split('.').map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

export interface KeyInfo {
  key: string;
  env: string;
  spec: ConfigKey;
}

function leafKeys(section: Section, path: string[]): KeyInfo[] {
  return Object.entries(section).flatMap(([name, node]) => {
    const key = [...path, name].join('.');
    return isKey(node) ? [{ key, env: envName(key), spec: node }] : leafKeys(node, [...path, name]);
  });
}

/** The composed schema: its root section, its leaf keys (in order), by name, and their variables. */
interface ComposedSchema {
  root: Section;
  keys: KeyInfo[];
  byName: Map<string, KeyInfo>;
  envNames: Set<string>;
}

const composed = new WeakMap<readonly PluginManifest[], ComposedSchema>();

/** The core's sections and every plugin's, checked (one owner per section) and indexed once per plugin list. */
function composeSchema(plugins: readonly PluginManifest[]): ComposedSchema {
  let found = composed.get(plugins);
  if (found) return found;
  checkPlugins(plugins, Object.keys(schema));
  const root: Section = { ...(schema as unknown as Section) };
  for (const plugin of plugins) Object.assign(root, plugin.config);
  const keys = leafKeys(root, []);
  found = { root, keys, byName: new Map(keys.map((info) => [info.key, info])), envNames: new Set(keys.map((info) => info.env)) };
  composed.set(plugins, found);
  return found;
}

/** Every leaf key of the schema composed with `plugins`, core keys first, in schema order. */
export function schemaKeys(plugins: readonly PluginManifest[] = BUILTIN_PLUGINS): KeyInfo[] {
  return composeSchema(plugins).keys;
}

/** The schema leaf at `key` or above it (`policy.policies.tos.version` → policy.policies). */
function leafOf(byName: Map<string, KeyInfo>, path: Array<string | number>): KeyInfo | undefined {
  for (let i = path.length; i > 0; i--) {
    const found = byName.get(path.slice(0, i).join('.'));
    if (found) return found;
  }
  return undefined;
}

/** `a.b[2].c` → ['a', 'b', 2, 'c']. */
function splitKey(key: string): Array<string | number> {
  return key.split(/\.|(?=\[)/).filter(Boolean).map((part) => (/^\[\d+\]$/.test(part) ? Number(part.slice(1, -1)) : part));
}

function valueAt(data: unknown, path: Array<string | number>): { found: boolean; value?: unknown } {
  let node = data;
  for (const part of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return { found: false };
    node = (node as Record<string | number, unknown>)[part];
  }
  return { found: true, value: node };
}

/** A value as quoted in an error message: short, one line. */
function showValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isPlainObject(value)) return 'a map';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

interface YamlFile {
  path: string;
  source: string;
  data: Record<string, unknown>;
  doc: Document;
  lines: LineCounter;
}

/** One thing wrong with the configuration: `<key>: <text>`. */
interface Problem {
  key: string;
  text: string;
  /** Append ", got <value as written>" (never for sensitive keys). */
  showGot?: boolean;
}

/**
 * YAML reads `version: 1.0` as the number 1: inside a key marked `numbersAsWritten` (a policy
 * version is text), every number is taken from the source exactly as the operator wrote it.
 */
function numbersAsWritten(node: unknown, value: unknown, source: string): unknown {
  if (isScalar(node) && typeof node.value === 'number' && node.range) return source.slice(node.range[0], node.range[1]).trim();
  if (isMap(node) && isPlainObject(value)) {
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const name = String(pair.key.value);
      if (Object.hasOwn(value, name)) value[name] = numbersAsWritten(pair.value, value[name], source);
    }
  } else if (isSeq(node) && Array.isArray(value)) {
    node.items.forEach((item, i) => { value[i] = numbersAsWritten(item, value[i], source); });
  }
  return value;
}

function keepNumbersAsWritten(file: YamlFile, keys: KeyInfo[]): void {
  for (const { key, spec } of keys) {
    if (!spec.numbersAsWritten) continue;
    const path = key.split('.');
    const parent = valueAt(file.data, path.slice(0, -1));
    const name = path[path.length - 1];
    if (!parent.found || !isPlainObject(parent.value) || !Object.hasOwn(parent.value, name)) continue;
    parent.value[name] = numbersAsWritten(file.doc.getIn(path, true), parent.value[name], file.source);
  }
}

function readYaml(file: string): YamlFile {
  const path = resolve(file);
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : code ?? 'unreadable';
    throw new ConfigError(`config error: cannot read config file ${path}: ${reason}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, { prettyErrors: false, lineCounter: lines });
  // Warnings too (an unknown tag such as !secret would otherwise be read as plain text).
  const [yamlError] = [...doc.errors, ...doc.warnings];
  if (yamlError) {
    const message = yamlError.code === 'MULTIPLE_DOCS' ? 'a config file holds one YAML document' : yamlError.message.split('\n')[0];
    throw new ConfigError(`config error in ${path} line ${lines.linePos(yamlError.pos[0]).line}: invalid YAML: ${message}`);
  }
  let data: unknown;
  try {
    data = doc.toJS() ?? {};
  } catch (err) {
    throw new ConfigError(`config error in ${path}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isPlainObject(data)) throw new ConfigError(`config error in ${path} line 1: expected a map of sections (server:, storage:, …) at the top level`);
  return { path, source, data, doc, lines };
}

/** Line of the deepest part of `path` present in the file. */
function lineOf(file: YamlFile, path: Array<string | number>): number | undefined {
  let node: unknown = file.doc.contents;
  let offset: number | undefined;
  for (const part of path) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(part));
      if (!pair) break;
      offset = (pair.key as { range?: [number, number, number] }).range?.[0];
      next = pair.value;
    } else if (isSeq(node) && typeof part === 'number' && node.items[part]) {
      next = node.items[part];
      offset = (next as { range?: [number, number, number] }).range?.[0] ?? offset;
    } else break;
    node = next;
  }
  return offset === undefined ? undefined : file.lines.linePos(offset).line;
}

const isDuration = (spec: ConfigKey) => spec.format === 'duration' || spec.format === 'duration-or-never';

/**
 * Checks the shape of file or override data against the schema before convict sees it: unknown
 * keys at any depth, sections given as scalars, maps given to plain keys. Returns the data with
 * empty sections (`memory:` with every key commented out) left out.
 */
function checkShape(data: Record<string, unknown>, section: Section, path: string[], problems: Problem[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(data)) {
    const key = [...path, name].join('.');
    const node = Object.hasOwn(section, name) ? section[name] : undefined;
    if (!node) {
      problems.push({ key, text: `unknown key, expected one of ${Object.keys(section).join(', ')}` });
    } else if (isKey(node)) {
      if (isDuration(node) && typeof value === 'number' && value !== 0) {
        problems.push({ key, text: `expected ${describeFormat(node)} (a number needs a unit)`, showGot: true });
      } else if (isPlainObject(value) && node.format !== Object && node.format !== 'object') {
        problems.push({ key, text: `expected ${describeFormat(node)}`, showGot: true });
      } else out[name] = value;
    } else if (value !== null) {
      if (isPlainObject(value)) out[name] = checkShape(value, node, [...path, name], problems);
      else problems.push({ key, text: `expected a section with keys ${Object.keys(node).join(', ')}`, showGot: true });
    }
  }
  return out;
}

/** Turns one line of convict's validation error into a Problem. */
function problemFromConvict(line: string, byName: Map<string, KeyInfo>): Problem {
  const undeclared = /configuration param '([^']+)' not declared in the schema/.exec(line);
  if (undeclared) return { key: undeclared[1], text: 'unknown key' };
  const missing = /configuration param '([^']+)' missing from config/.exec(line);
  if (missing) {
    const parent = missing[1].split('.').slice(0, -1).join('.');
    return { key: parent, text: 'expected a section of keys', showGot: true };
  }
  const match = /^([\w.]+): ([\s\S]*)$/.exec(line);
  const leaf = match ? byName.get(match[1]) : undefined;
  if (!match || !leaf) return { key: '', text: line };
  // convict appends ": value was <JSON>"; the value is shown from the source instead.
  const message = match[2].split(': value was ')[0];
  if (message.startsWith('expected ')) return { key: leaf.key, text: message, showGot: true };
  // unisd's formats name the part of a structured value that is wrong: "[0].username: expected …".
  const inner = /^(.+?): ((?:expected|unknown key)[\s\S]*)$/.exec(message);
  if (inner) return { key: `${leaf.key}${inner[1].startsWith('[') ? '' : '.'}${inner[1]}`, text: inner[2] };
  // convict's own wording ("must be of type Boolean", "must be one of the possible values: …").
  return { key: leaf.key, text: `expected ${describeFormat(leaf.spec)}`, showGot: true };
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const fileName = options.file ?? (env.UNISD_CONFIG || undefined);
  let file: YamlFile | undefined;
  try {
    file = fileName ? readYaml(fileName) : undefined;
  } catch (err) {
    if (options.file === undefined && err instanceof ConfigError) throw new ConfigError(`${err.message} (from UNISD_CONFIG)`);
    throw err;
  }

  const { root, keys, byName, envNames } = composeSchema(options.plugins ?? BUILTIN_PLUGINS);
  if (file) keepNumbersAsWritten(file, keys);
  const problems: Problem[] = [];
  const fileData = file ? checkShape(file.data, root, [], problems) : undefined;
  const overrides = options.overrides ? checkShape(options.overrides, root, [], problems) : undefined;

  // A misspelt variable would otherwise be ignored without a word, like an unknown key in the file.
  const unknownEnv = Object.keys(env).find((name) => name.startsWith('UNISD_') && !envNames.has(name) && name !== 'UNISD_CONFIG' && !name.startsWith('UNISD_TEST_'));
  if (unknownEnv) throw new ConfigError(`config error: environment variable ${unknownEnv} is not a configuration key (\`unisd config keys\` lists them)`);

  const config = convict(root as convict.Schema<Config>, { env: {}, args: [] });
  if (problems.length === 0) {
    if (fileData) config.load(fileData);
    if (overrides) config.load(overrides);
    for (const { key, env: name, spec } of keys) {
      const text = env[name];
      if (text === undefined) continue;
      try {
        config.set(key as never, text as never);
      } catch {
        problems.push({ key, text: `expected ${describeFormat(spec)}`, showGot: true });
      }
    }
    try {
      config.validate({ allowed: 'strict' });
    } catch (err) {
      problems.push(...String((err as Error).message).split('\n').filter(Boolean).map((line) => problemFromConvict(line, byName)));
    }
    for (const { key, spec } of keys) {
      if (!spec.check || problems.some((p) => p.key === key || p.key.startsWith(`${key}.`))) continue;
      try {
        spec.check(config.get(key as never));
      } catch (err) {
        problems.push(problemFromConvict(`${key}: ${(err as Error).message}`, byName));
      }
    }
  }
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    throw new ConfigError(`${describeProblem(problems[0], byName, { file, overrides: options.overrides, env })}${more}`.replace(/\s*\n\s*/g, ' '));
  }

  const loaded = config.getProperties();
  for (const { key, spec } of keys) {
    if (!spec.normalise) continue;
    const path = key.split('.');
    const parent = path.slice(0, -1).reduce((node: any, part) => node[part], loaded);
    parent[path[path.length - 1]] = spec.normalise(parent[path[path.length - 1]]);
  }
  return loaded;
}

/** Where `plugins.modules` is set: the environment wins over overrides, overrides over the file. */
function pluginModules(file: YamlFile | undefined, options: LoadOptions, env: NodeJS.ProcessEnv): string[] {
  const fromEnv = env.UNISD_PLUGINS_MODULES;
  if (fromEnv !== undefined) return commaList(fromEnv);
  for (const data of [options.overrides, file?.data]) {
    const modules = valueAt(data, ['plugins', 'modules']);
    // A value that is not a list of strings is reported by the validation that follows.
    if (modules.found) return Array.isArray(modules.value) ? modules.value.filter((m): m is string => typeof m === 'string') : [];
  }
  return [];
}

/**
 * Loads the configuration with its external plugins: reads `plugins.modules` from the file, the
 * overrides or the environment, imports those modules (a failure stops here, naming the module),
 * then validates everything against the schema composed with their sections. Returns the
 * configuration and every manifest (built-in, then external) to build the app from.
 */
export async function loadConfiguration(options: LoadOptions = {}): Promise<{ config: Config; plugins: PluginManifest[] }> {
  const env = options.env ?? process.env;
  const fileName = options.file ?? (env.UNISD_CONFIG || undefined);
  let file: YamlFile | undefined;
  try {
    file = fileName ? readYaml(fileName) : undefined;
  } catch {
    file = undefined; // loadConfig reports it
  }
  const modules = pluginModules(file, options, env);
  const plugins = [...(options.plugins ?? BUILTIN_PLUGINS), ...await importPluginModules(modules)];
  return { config: loadConfig({ ...options, plugins }), plugins };
}

/** "config error in <where>: <key>: <what was expected>, got <value>". */
function describeProblem(problem: Problem, byName: Map<string, KeyInfo>, sources: { file?: YamlFile; overrides?: Record<string, unknown>; env: NodeJS.ProcessEnv }): string {
  const path = splitKey(problem.key);
  const leaf = leafOf(byName, path);
  // Where the value came from is decided at the schema key; a problem inside a structured value
  // (policy.policies.tos.terms) may point below it, at something that is missing.
  const keyPath = leaf ? splitKey(leaf.key) : path;
  const fromEnv = leaf && sources.env[leaf.env] !== undefined ? leaf.env : undefined;
  let where: string | undefined;
  let written: { found: boolean; value?: unknown } = { found: false };
  if (fromEnv) {
    where = `environment variable ${fromEnv}${sources.file ? ` (config file ${sources.file.path})` : ''}`;
    written = { found: true, value: sources.env[fromEnv] };
  } else if (sources.file && valueAt(sources.file.data, keyPath).found) {
    written = valueAt(sources.file.data, path);
    const line = lineOf(sources.file, path);
    where = `${sources.file.path}${line ? ` line ${line}` : ''}`;
  } else if (sources.overrides && valueAt(sources.overrides, keyPath).found) {
    written = valueAt(sources.overrides, path);
    where = 'overrides';
  } else if (sources.file) {
    where = sources.file.path;
  }
  const got = problem.showGot && written.found && !leaf?.spec.sensitive ? `, got ${showValue(written.value)}` : '';
  const key = problem.key ? `${problem.key}: ` : '';
  return `config error${where ? ` in ${where}` : ''}: ${key}${problem.text}${got}`;
}

/** A value as written in a config file (durations as text, not milliseconds). */
export function writtenValue(spec: ConfigKey, value: unknown): unknown {
  if (isDuration(spec) && typeof value === 'number') {
    return spec.format === 'duration-or-never' && value === 0 ? 'never' : formatDuration(value);
  }
  return value;
}

export const MASK = '********';

/**
 * The effective configuration as YAML-ready data, loadable again: durations written as text,
 * every sensitive value that is set (not empty text, not an empty list) replaced by ********.
 */
export function printableConfig(config: Config, plugins: readonly PluginManifest[] = BUILTIN_PLUGINS): Record<string, unknown> {
  const copy = structuredClone(config) as Record<string, any>;
  for (const { key, spec } of schemaKeys(plugins)) {
    const path = key.split('.');
    const parent = path.slice(0, -1).reduce((node, part) => node[part], copy);
    const name = path[path.length - 1];
    const unset = parent[name] === '' || (Array.isArray(parent[name]) && parent[name].length === 0);
    parent[name] = spec.sensitive && !unset ? MASK : writtenValue(spec, parent[name]);
  }
  return copy;
}
