/**
 * Versioned schema migrations, forward only. Each SQL backend has its list, numbered from 1
 * (./sqlite/migrations.ts, ./postgresql/migrations.ts); a database records the versions applied
 * to it in its `schema_migrations` table, and opening a store applies the ones missing, in
 * order, each in its own transaction, while holding the backend's migration lock (several
 * instances starting together migrate once). A released migration is never edited: a change of
 * schema is a new migration at the end of the list. `unisd db migrate` runs them ahead of a
 * start, or with --dry-run prints what would run.
 */

export interface Migration {
  version: number;
  /** What it does, in a few words (printed by `unisd db migrate`). */
  name: string;
  sql: string;
}

/**
 * The migrations of `list` that `applied` (the versions a database records) lacks, in order.
 * Throws when the database knows a version this unisd does not: it was migrated by a newer one.
 */
export function pendingMigrations(list: readonly Migration[], applied: readonly number[]): Migration[] {
  const known = list.length === 0 ? 0 : list[list.length - 1].version;
  const newest = Math.max(0, ...applied);
  if (newest > known) throw new Error(`the database schema is at version ${newest}, newer than this unisd knows (${known}): run a newer unisd`);
  const done = new Set(applied);
  return list.filter((migration) => !done.has(migration.version));
}

/** What `unisd db migrate --dry-run` prints: each pending migration and its SQL. */
export function describePending(where: string, pending: readonly Migration[]): string {
  if (pending.length === 0) return `${where}: schema up to date, nothing to run\n`;
  const lines = [`${where}: ${pending.length} migration${pending.length > 1 ? 's' : ''} would run:`];
  for (const m of pending) lines.push('', `-- ${m.version}: ${m.name}`, m.sql.trim());
  return `${lines.join('\n')}\n`;
}

/** What `unisd db migrate` prints once it applied `applied`. */
export function describeApplied(where: string, applied: readonly Migration[]): string {
  if (applied.length === 0) return `${where}: schema up to date, nothing to run\n`;
  return `${applied.map((m) => `${where}: applied ${m.version}: ${m.name}`).join('\n')}\n`;
}
