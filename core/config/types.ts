/**
 * The type of the loaded configuration. The core's sections are typed from its schema
 * (./schema.ts); each plugin adds its own sections to `PluginConfigs` from its manifest, the
 * way Fastify decorators are typed:
 *
 *   declare module '../../core/config/types.js' {
 *     interface PluginConfigs extends SectionValues<typeof config> {}
 *   }
 *
 * so `app.config.<section>` is typed everywhere while the schema itself is composed at start.
 */
import type { schema } from './schema.js';

/** The values a schema fragment loads to: each leaf's `default` type, sections nested. */
export type SectionValues<S> = {
  -readonly [K in keyof S]: S[K] extends { doc: string; default: infer D } ? D : SectionValues<S[K]>;
};

/** Sections contributed by plugin manifests (augmented by each manifest). */
export interface PluginConfigs {}

export type CoreConfig = SectionValues<typeof schema>;

export type Config = CoreConfig & PluginConfigs;
