/**
 * `unisd admin` when no server runs: the CLI opens the store itself and runs the same
 * AdminService. What the server's plugins would do on the event bus is done here for what
 * outlives the process: with `hashing.hashStorageType: sql` an unbind leaves the stored hash
 * tables of the live peppers (in_memory tables are rebuilt from the store at the next start).
 */
import { existsSync } from 'node:fs';
import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../core/config/load.js';
import type { Store } from '../../core/store/port.js';
import { openStore } from '../../core/store/index.js';
import { EventBus } from '../../core/events.js';
import { SmtpMailer } from '../email/service.js';
import { loadTemplates } from '../email/templates.js';
import { entriesOf } from '../lookup/rotation.js';
import { AdminService } from './service.js';
import { answer, type AdminAnswer } from './answer.js';

/** Runs one request on the configured store, opened (and locked) for this process only. */
export async function answerOffline(config: Config, request: unknown): Promise<AdminAnswer> {
  // Logs go to stderr: stdout is the command's answer.
  const log = pino({ level: config.logging.level === 'silent' ? 'silent' : 'warn' }, pino.destination(2)) as unknown as FastifyBaseLogger;
  const store = await openOfflineStore(config);
  const mailer = new SmtpMailer(config.email.smtp, loadTemplates(config.email.templates), config.email.from, log);
  const failures: unknown[] = [];
  const events = new EventBus((_event, err) => failures.push(err));
  if (config.hashing.enabled && config.hashing.hashStorageType === 'sql') events.on('unbind', (mapping) => forgetHashes(store, mapping));
  try {
    const result = await answer(new AdminService({ store, events, mailer, log }), request, log);
    // The binds are gone; the stored hash tables must not keep answering them.
    if (failures.length > 0) throw new Error(`the hash tables could not be updated (${(failures[0] as Error)?.message}); run unisd hash rotate`);
    return result;
  } finally {
    mailer.close();
    await store.close();
  }
}

async function forgetHashes(store: Store, mapping: { medium: string; address: string; mxid: string }): Promise<void> {
  const state = await store.peppers.getPepperState();
  for (const pepper of state ? [state.pepper, ...state.altPeppers] : []) await store.hashes.remove(pepper, entriesOf(mapping, pepper));
}

async function openOfflineStore(config: Config): Promise<Store> {
  const { backend, sqlite } = config.storage;
  // Opening would create an empty store: an erasure there would find nothing and say so.
  if (backend === 'sqlite' && !existsSync(sqlite.path)) {
    throw new Error(`admin: no store at ${sqlite.path} (storage.sqlite.path; a relative path is read from the working directory: run unisd admin from the server's)`);
  }
  try {
    return await openStore(config.storage);
  } catch (err) {
    const message = (err as Error).message.split('\n')[0];
    if (/in use by another unisd process/.test(message)) {
      throw new Error(`${message}, and no admin socket answers for it (is admin.enabled false on that server, or admin.socket different?)`);
    }
    throw new Error(`storage error: ${message}`);
  }
}
