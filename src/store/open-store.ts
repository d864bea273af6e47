import { StoreError } from '../common/errors.ts';
import { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.ts';
import type { Store } from './store.ts';

/**
 * Opens the store a connection string names: a file path (or `sqlite:` + path) is an embedded
 * SQLite database, created on first use.
 */
export function openStore(connection: string, options: SqliteStoreOptions = {}): Store {
  if (/^postgres(ql)?:\/\//.test(connection)) {
    throw new StoreError(
      `PostgreSQL stores are not available in this version of Keel yet; use a SQLite file path instead of '${connection}'.`,
    );
  }
  const path = connection.startsWith('sqlite:') ? connection.slice('sqlite:'.length) : connection;
  if (path === '')
    throw new StoreError('Empty store connection string: give a file path such as ./keel.db.');
  return SqliteStore.open(path, options);
}
