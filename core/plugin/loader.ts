/**
 * From manifests to registered plugins: checks manifests (built-in and external), imports the
 * external ones named by `plugins.modules`, orders the enabled ones by their dependencies and
 * registers each as the fastify-plugin `unisd-<name>`. Every failure is one line naming the
 * plugin or module.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/types.js';
import type { PluginManifest } from './manifest.js';

export class PluginError extends Error {
  override name = 'PluginError';
}

/** Registered by the core before any plugin: every plugin may use their decorators. */
export const CORE_PLUGINS = ['unisd-context', 'unisd-api', 'unisd-federation'];

const NAME = /^[a-z][a-z0-9-]*$/;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The first thing wrong with a schema fragment, as `<path>: <problem>`, or null. */
function sectionProblem(section: unknown, path: string): string | null {
  if (!isObject(section)) return `${path}: expected a section (a map of keys)`;
  for (const [name, node] of Object.entries(section)) {
    const where = `${path}.${name}`;
    if (!isObject(node)) return `${where}: expected a key {doc, format, default} or a section`;
    if ('default' in node) {
      if (typeof node.doc !== 'string' || node.doc === '') return `${where}: a key needs a doc`;
      if (!('format' in node)) return `${where}: a key needs a format`;
    } else {
      const problem = sectionProblem(node, where);
      if (problem) return problem;
    }
  }
  return null;
}

/** Checks one manifest's shape; `origin` says where it came from (a module path) for the message. */
export function checkManifest(value: unknown, origin: string): PluginManifest {
  const fail = (problem: string): never => { throw new PluginError(`plugin error: ${origin}: ${problem}`); };
  if (!isObject(value)) return fail('its default export is not a plugin manifest (definePlugin({...}))');
  if (typeof value.name !== 'string' || !NAME.test(value.name)) return fail('manifest name: expected a short name of lowercase letters, digits and dashes');
  if (typeof value.description !== 'string') return fail(`manifest ${value.name}: description: expected text`);
  if (typeof value.enabled !== 'function') return fail(`manifest ${value.name}: enabled: expected a function of the configuration`);
  if (typeof value.plugin !== 'function') return fail(`manifest ${value.name}: plugin: expected a function importing the plugin`);
  if (value.primary !== undefined && typeof value.primary !== 'function') return fail(`manifest ${value.name}: primary: expected a function importing the primary's task`);
  if (value.example !== undefined && typeof value.example !== 'string') return fail(`manifest ${value.name}: example: expected YAML text`);
  if (value.dependencies !== undefined && !(Array.isArray(value.dependencies) && value.dependencies.every((d) => typeof d === 'string'))) {
    return fail(`manifest ${value.name}: dependencies: expected a list of plugin names`);
  }
  if (value.config !== undefined) {
    if (!isObject(value.config)) return fail(`manifest ${value.name}: config: expected a map of section name to section`);
    for (const [section, fragment] of Object.entries(value.config)) {
      const problem = sectionProblem(fragment, section);
      if (problem) return fail(`manifest ${value.name}: config ${problem}`);
    }
  }
  return value as unknown as PluginManifest;
}

/**
 * Checks a set of manifests together: unique names, config sections owned once (not by the core
 * and not by two plugins), dependencies that name a known plugin, no dependency cycle.
 */
export function checkPlugins(plugins: readonly PluginManifest[], coreSections: string[]): void {
  const owner = new Map<string, string>(coreSections.map((section) => [section, 'the core']));
  const names = new Set<string>();
  for (const plugin of plugins) {
    if (names.has(plugin.name)) throw new PluginError(`plugin error: two plugins are named ${plugin.name}`);
    names.add(plugin.name);
    for (const section of Object.keys(plugin.config ?? {})) {
      const other = owner.get(section);
      if (other) throw new PluginError(`plugin error: plugin ${plugin.name} declares config section ${section}, which ${other === 'the core' ? 'the core' : `plugin ${other}`} owns`);
      owner.set(section, plugin.name);
    }
  }
  for (const plugin of plugins) {
    const unknown = (plugin.dependencies ?? []).find((name) => !names.has(name));
    if (unknown !== undefined) throw new PluginError(`plugin error: plugin ${plugin.name} depends on ${unknown}, which is no known plugin`);
  }
  pluginOrder(plugins);
}

/**
 * The registration order: each plugin after the plugins it depends on, otherwise in list order.
 * Dependencies outside `plugins` (disabled ones) are left to Fastify, which refuses to start.
 */
export function pluginOrder(plugins: readonly PluginManifest[]): PluginManifest[] {
  const byName = new Map(plugins.map((plugin) => [plugin.name, plugin]));
  const ordered: PluginManifest[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (plugin: PluginManifest, path: string[]): void => {
    if (state.get(plugin.name) === 'done') return;
    if (state.get(plugin.name) === 'visiting') {
      throw new PluginError(`plugin error: dependency cycle: ${[...path.slice(path.indexOf(plugin.name)), plugin.name].join(' → ')}`);
    }
    state.set(plugin.name, 'visiting');
    for (const name of plugin.dependencies ?? []) {
      const dependency = byName.get(name);
      if (dependency) visit(dependency, [...path, plugin.name]);
    }
    state.set(plugin.name, 'done');
    ordered.push(plugin);
  };
  for (const plugin of plugins) visit(plugin, []);
  return ordered;
}

/** What a module name in plugins.modules is imported as: a path (from the working directory) or a package. */
function importSpecifier(module: string): string {
  const isPath = module.startsWith('.') || isAbsolute(module);
  return isPath ? pathToFileURL(resolve(module)).href : module;
}

/** Imports the manifests of `plugins.modules`; a module that fails to load stops the start. */
export async function importPluginModules(modules: readonly string[]): Promise<PluginManifest[]> {
  const manifests: PluginManifest[] = [];
  for (const module of modules) {
    let loaded: { default?: unknown };
    try {
      loaded = await import(importSpecifier(module));
    } catch (err) {
      throw new PluginError(`plugin error: plugins.modules: cannot load ${module}: ${String((err as Error)?.message ?? err).split('\n')[0]}`);
    }
    // tsc compiles to CommonJS unless the folder's package.json says "type": "module": the
    // manifest then sits at exports.default, one level too deep, and would fail as "no name".
    const exported = loaded.default;
    if (isObject(exported) && !('name' in exported) && isObject(exported.default) && 'name' in exported.default) {
      throw new PluginError(`plugin error: plugins.modules ${module}: it is a CommonJS module (its manifest is exports.default): compile it as an ES module ("type": "module" in its package.json)`);
    }
    manifests.push(checkManifest(exported, `plugins.modules ${module}`));
  }
  return manifests;
}

/** Registers the plugins `config` enables, in dependency order. Returns their names. */
export async function registerPlugins(app: FastifyInstance, plugins: readonly PluginManifest[], config: Config): Promise<string[]> {
  const enabled = pluginOrder(plugins.filter((plugin) => plugin.enabled(config)));
  for (const manifest of enabled) {
    let plugin: unknown;
    try {
      plugin = (await manifest.plugin()).default;
    } catch (err) {
      throw new PluginError(`plugin error: ${manifest.name}: cannot load its plugin: ${String((err as Error)?.message ?? err).split('\n')[0]}`);
    }
    if (typeof plugin !== 'function') throw new PluginError(`plugin error: ${manifest.name}: its plugin module has no default export function`);
    const meta = (plugin as unknown as Record<symbol, { decorators?: object } | undefined>)[Symbol.for('plugin-meta')];
    await app.register(fp(plugin as (app: FastifyInstance) => Promise<void>, {
      ...meta,
      name: `unisd-${manifest.name}`,
      dependencies: [...CORE_PLUGINS, ...(manifest.dependencies ?? []).map((name) => `unisd-${name}`)],
    }));
  }
  return enabled.map((plugin) => plugin.name);
}
