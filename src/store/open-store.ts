import { StoreError } from '../common/errors.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.ts';
import type { Store } from './store.ts';

/**
 * Opens the store a connection string names: `postgres://user@host:5432/db?schema=keel` is a
 * PostgreSQL database shared by many processes; a file path (or `sqlite:` + path) is an embedded
 * SQLite database. Both are created (and migrated) on first use.
 */
export function openStore(connection: string, options: SqliteStoreOptions = {}): Store {
  if (/^postgres(ql)?:\/\//.test(connection)) return PostgresStore.open(connection);
  const path = connection.startsWith('sqlite:') ? connection.slice('sqlite:'.length) : connection;
  if (path === '')
    throw new StoreError('Empty store connection string: give a file path such as ./keel.db.');
  return SqliteStore.open(path, options);
}
