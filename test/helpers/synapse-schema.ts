/**
 * The Synapse tables the synapseSql provider reads, with Synapse's own column definitions
 * (synapse/storage/schema/main/full_schemas/72 for PostgreSQL and SQLite, plus the later deltas
 * adding users.approved, locked and suspended). Only the columns, constraints and indexes that
 * shape these three tables.
 */
import type { TestDbKind } from './sql-databases.js';

export function synapseSchema(kind: Exclude<TestDbKind, 'mariadb'>): string[] {
  const bool = kind === 'postgresql' ? 'boolean' : 'BOOLEAN';
  return [
    `CREATE TABLE users (name text, password_hash text, creation_ts bigint, admin smallint DEFAULT 0 NOT NULL,
      upgrade_ts bigint, is_guest smallint DEFAULT 0 NOT NULL, appservice_id text, consent_version text,
      consent_server_notice_sent text, user_type text, deactivated smallint DEFAULT 0 NOT NULL,
      shadow_banned ${bool}, consent_ts bigint, approved ${bool}, locked ${bool} DEFAULT false NOT NULL,
      suspended ${bool} DEFAULT false NOT NULL, UNIQUE (name))`,
    `CREATE TABLE user_threepids (user_id text NOT NULL, medium text NOT NULL, address text NOT NULL,
      validated_at bigint NOT NULL, added_at bigint NOT NULL, CONSTRAINT medium_address UNIQUE (medium, address))`,
    'CREATE INDEX user_threepids_user_id ON user_threepids (user_id)',
    `CREATE TABLE user_threepid_id_server (user_id text NOT NULL, medium text NOT NULL, address text NOT NULL,
      id_server text NOT NULL)`,
    'CREATE UNIQUE INDEX user_threepid_id_server_idx ON user_threepid_id_server (user_id, medium, address, id_server)',
  ];
}
