/**
 * The admin socket: while the server runs, `unisd admin` sends its requests here (the SQLite
 * store is locked to this process) and this process runs them with the same AdminService the
 * CLI uses when no server runs. Opened once the server listens (not when the app is only built,
 * as `unisd providers check` does), closed with the app.
 */
import type { FastifyInstance } from 'fastify';
import { AdminService } from './service.js';
import { answerLine } from './answer.js';
import { adminSocketPath } from './socket-path.js';
import { listenAdminSocket, type AdminSocket } from './socket.js';

export default async function adminPlugin(app: FastifyInstance): Promise<void> {
  const log = app.log.child({ plugin: 'admin' });
  const service = new AdminService({ store: app.store, events: app.events, mailer: app.mailer, log, onbindDue: () => app.onbind.kick() });
  const path = adminSocketPath(app.config);
  if (path === null) return;
  let socket: AdminSocket | null = null;
  let closing = false;
  app.addHook('onListen', async () => {
    try {
      const opened = await listenAdminSocket(path, (line) => answerLine(service, line, log));
      if (closing) await opened.close();
      else socket = opened;
      log.info({ socket: path }, 'admin socket listening');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'admin socket not served: unisd admin cannot reach this server');
    }
  });
  app.addHook('onClose', async () => {
    closing = true;
    await socket?.close();
  });
}
