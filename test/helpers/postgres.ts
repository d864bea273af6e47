/**
 * PostgreSQL for tests: the machine's server at 127.0.0.1:5432 (trust auth), one fresh schema per
 * store, dropped at teardown. `KEEL_TEST_POSTGRES_URL` points elsewhere.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { seatLockName } from '../../src/store/postgres/first-responders.ts';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { PolledTaskKind } from '../../src/store/store.ts';

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

/**
 * Resolves once `store`'s only lane (`batchLanes: 1`) is held by a transaction, which ends at
 * `release()`: transactions started meanwhile queue up and then run together, as one batch.
 */
export async function holdLane(store: PostgresStore): Promise<{ release: () => Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let holding!: () => void;
  const lane = new Promise<void>((resolve) => (holding = resolve));
  const blocker = store.transaction(async (tx) => {
    await tx.getExecution('nobody');
    holding();
    await held;
  });
  await lane;
  return {
    release: async () => {
      release();
      await blocker;
    },
  };
}

/** Resolves once some session of the database waits for a lock (polled every 2 ms). */
export async function someoneWaitsForALock(): Promise<void> {
  const watcher = new pg.Client({ connectionString: POSTGRES_URL });
  await watcher.connect();
  try {
    for (;;) {
      const { rows } = await watcher.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
      );
      if (rows.length > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  } finally {
    await watcher.end();
  }
}

/**
 * A query for the session holding a queue's first-responder seat (an advisory lock keyed by the
 * hash of its name), joined with `pg_stat_activity`: at most one row, with the session's `pid`.
 */
export function seatHolderQuery(
  schema: string,
  taskQueue: string,
  kind: PolledTaskKind,
): { text: string; values: string[] } {
  return {
    text: `SELECT pid, client_addr, client_port FROM pg_locks JOIN pg_stat_activity USING (pid)
            WHERE locktype = 'advisory' AND granted AND objsubid = 1
              AND (classid::int8 << 32 | objid::int8) = hashtextextended($1, 0)`,
    values: [seatLockName(schema, taskQueue, kind)],
  };
}
