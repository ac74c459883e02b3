import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { IdentityProvider, Mapping } from 'unisd/core/providers/provider.js';
import type { ThreePid } from 'unisd/core/store/port.js';
import type { CsvDirectoryConfig } from './manifest.js';

const key = (t: ThreePid): string => `${t.medium} ${t.address}`;

export function csvProvider(csv: string, priority: number): IdentityProvider {
  const byThreepid = new Map<string, Mapping>();
  for (const line of csv.split('\n')) {
    const [medium, address, mxid] = line.split(',').map((field) => field.trim());
    if (medium && address && mxid) byThreepid.set(key({ medium, address }), { medium, address, mxid });
  }
  return {
    name: 'csv-directory',
    priority,
    capabilities: { media: ['email', 'msisdn'], bulk: true, hashSource: false },
    lookup: async (threepid) => byThreepid.get(key(threepid))?.mxid ?? null,
    bulkLookup: async (threepids) => threepids.flatMap((t) => byThreepid.get(key(t)) ?? []),
  };
}

export default async function csvDirectory(app: FastifyInstance): Promise<void> {
  const { file, priority } = (app.config as unknown as CsvDirectoryConfig).csvDirectory;
  app.providers.register(csvProvider(readFileSync(file, 'utf8'), priority));
}
