/**
 * PostgreSQL for tests: the machine's server at 127.0.0.1:5432 (trust auth), one fresh schema per
 * store, dropped at teardown. `KEEL_TEST_POSTGRES_URL` points elsewhere.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A connection string for a new, unique schema; `drop()` removes it. */
export function freshSchema(prefix = 'keel_t'): {
  url: string;
  schema: string;
  drop: () => Promise<void>;
} {
  const schema = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('schema', schema);
  return {
    url: url.toString(),
    schema,
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
