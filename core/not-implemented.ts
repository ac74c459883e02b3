/**
 * Configuration sections unisd already accepts (ma1sd's format) whose feature is not built yet.
 * A configuration that switches one on must not start as if it worked: each gets one warning at
 * start. The work that builds a feature deletes its entry here.
 */
import type { Config } from './config/load.js';

const NOT_IMPLEMENTED: Array<{ key: string; on: (config: Config) => boolean; consequence: string }> = [
];

/** One line per section switched on whose feature does not exist yet. */
export function notImplementedWarnings(config: Config): string[] {
  return NOT_IMPLEMENTED.filter(({ on }) => on(config)).map(({ key, consequence }) => `${key} is true, but ${consequence}`);
}
