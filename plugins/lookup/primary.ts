/** The lookup plugin's task in a cluster's primary: with hash lookup on, it runs the workers' pepper rotations. */
import type { PrimaryTask } from '../../core/plugin/manifest.js';
import { coordinateRotations } from './cluster-coordinator.js';

const primary: PrimaryTask = (config, log) => {
  if (config.hashing.enabled) coordinateRotations(config.hashing, log);
};
export default primary;
