/**
 * Numbered SQL migrations for PostgreSQL, applied in one transaction under an advisory lock, so that
 * ten processes starting at once apply each migration exactly once. A database whose schema is newer
 * than this code is refused.
 */
import type pg from 'pg';
import { StoreError } from '../../common/errors.ts';
import { readMigrations, type Migration } from '../migration-files.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
/** Advisory lock key: 'keel' as a number, constant across versions. */
const MIGRATION_LOCK = 0x6b65656c;

export function loadMigrations(): Migration[] {
  return readMigrations(MIGRATIONS_DIR);
}

export const LATEST_POSTGRES_SCHEMA_VERSION = Math.max(...loadMigrations().map((m) => m.version));

/** Brings `schema` (created if missing) to the latest version; `location` names the database in errors. */
export async function migratePostgres(
  client: pg.ClientBase,
  schema: string,
  location: string,
): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
    const tables = (
      await client.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
        [schema],
      )
    ).rows.map((r) => r.table_name);
    let current = 0;
    if (tables.includes('keel_meta')) {
      const row = await client.query<{ value: string }>(
        `SELECT value FROM keel_meta WHERE key = 'schema_version'`,
      );
      current = Number(row.rows[0]?.value ?? 0);
    } else if (tables.length > 0) {
      throw new StoreError(
        `Schema '${schema}' of ${location} holds tables that are not Keel's (${tables.slice(0, 5).join(', ')}). Use another schema (?schema=keel_other) or database.`,
      );
    }
    if (current > LATEST_POSTGRES_SCHEMA_VERSION) {
      throw new StoreError(
        `${location} (schema '${schema}') has Keel schema version ${current}, newer than this Keel knows (${LATEST_POSTGRES_SCHEMA_VERSION}). Upgrade Keel to use it.`,
      );
    }
    for (const migration of loadMigrations()) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query(
        `INSERT INTO keel_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [String(migration.version)],
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Quotes an SQL identifier; schema names come from configuration. */
export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new StoreError(`Invalid schema name '${name}': use letters, digits and _.`);
  return `"${name}"`;
}
