/**
 * Numbered plain-SQL migrations, applied in order inside one write transaction. The database records
 * its schema version in `keel_meta`; a database newer than this code is refused rather than guessed at.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../../common/errors.ts';
import { readMigrations, type Migration } from '../migration-files.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

export function loadMigrations(): Migration[] {
  return readMigrations(MIGRATIONS_DIR);
}

export const LATEST_SCHEMA_VERSION = Math.max(...loadMigrations().map((m) => m.version));

/** Brings the database at `db` (described as `location` in errors) to the latest schema. */
export function migrate(db: Database.Database, location: string): void {
  const migrations = loadMigrations();
  db.exec('BEGIN IMMEDIATE');
  try {
    const current = schemaVersion(db, location);
    if (current > LATEST_SCHEMA_VERSION) {
      throw new StoreError(
        `${location} has Keel schema version ${current}, newer than this Keel knows (${LATEST_SCHEMA_VERSION}). Upgrade Keel to open it.`,
      );
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.prepare(
        `INSERT INTO keel_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ).run(String(migration.version));
    }
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

function schemaVersion(db: Database.Database, location: string): number {
  const tables = db
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
    .pluck()
    .all() as string[];
  if (!tables.includes('keel_meta')) {
    if (tables.length > 0) {
      throw new StoreError(
        `${location} is a SQLite database but not a Keel database (it has the tables ${tables.slice(0, 5).join(', ')}). Point Keel at a new file or an existing Keel database.`,
      );
    }
    return 0;
  }
  const row = db
    .prepare(`SELECT value FROM keel_meta WHERE key = 'schema_version'`)
    .pluck()
    .get() as string | undefined;
  return row === undefined ? 0 : Number(row);
}
