import { StoreError } from '../common/errors.ts';
import { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.ts';
import { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.ts';
import type { Store } from './store.ts';

/**
 * Opens the store a connection string names: `postgres://user@host:5432/db?schema=keel` is a
 * PostgreSQL database shared by many processes; a file path (or `sqlite:` + path) is an embedded
 * SQLite database. Both are created (and migrated) on first use. `hints` says which hints a
 * PostgreSQL store hears from other processes (see `PostgresStoreOptions.hints`).
 */
export function openStore(
  connection: string,
  options: SqliteStoreOptions & Pick<PostgresStoreOptions, 'hints'> = {},
): Store {
  const { hints, ...sqliteOptions } = options;
  if (/^postgres(ql)?:\/\//.test(connection))
    return PostgresStore.open(connection, hints ? { hints } : {});
  const path = connection.startsWith('sqlite:') ? connection.slice('sqlite:'.length) : connection;
  if (path === '')
    throw new StoreError('Empty store connection string: give a file path such as ./keel.db.');
  return SqliteStore.open(path, sqliteOptions);
}
