// Placeholder until the MongoDB backend lands (being written now); replaced wholesale.
import type { Store } from './port.js';
export const MongoStore = class {
  constructor() { throw new Error('storage.backend mongodb: not available in this build yet'); }
} as unknown as new (uri: string, database: string) => Store;
