/**
 * One unisd process per SQLite database: an exclusive lock on `<path>.lock` (a small SQLite file
 * in exclusive locking mode), held while the store is open. A second process (or a second store
 * in the same process) is refused at once; the OS drops the lock when the process dies, so a
 * crash leaves nothing to clean. The database itself stays readable by other tools (backups).
 */
import Database from 'better-sqlite3';

/** Takes the lock of the database at `path`; close() the result to release it. */
export function lockDatabase(path: string): Database.Database {
  const lockPath = `${path}.lock`;
  const lock = new Database(lockPath, { timeout: 0 });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE; COMMIT;');
    return lock;
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new Error(`${path} is in use by another unisd process (${lockPath} is locked)`);
    throw err;
  }
}
