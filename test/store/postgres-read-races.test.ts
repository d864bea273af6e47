/**
 * Reads that the PostgreSQL store makes ahead, or together with something else, racing another
 * process's commit: the batch's look-up of running runs (taken at BEGIN) and a claim's history
 * (read in the claim's statement). Another process commits in the window, made wide on purpose: a
 * batch that waits for a row lock, a claim that passes over many rows another transaction holds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { Engine, type StartOptions } from '../../src/engine/engine.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { freshSchema, holdLane, POSTGRES_URL, someoneWaitsForALock } from '../helpers/postgres.ts';

const start = (engine: Engine, workflowId: string, options: StartOptions = {}) =>
  engine.startWorkflow(
    { workflowId, workflowType: 'w', taskQueue: 'q', input: [], workflowTaskTimeout: 10_000 },
    options,
  );

/** Two stores on one fresh schema (two processes, say), and a plain connection to it. */
async function twoProcesses(
  test: (
    here: { store: PostgresStore; engine: Engine },
    elsewhere: Engine,
    sql: pg.Client,
  ) => Promise<void>,
) {
  const { url, schema, drop } = freshSchema();
  const store = PostgresStore.open(url, { batchLanes: 1 });
  const other = PostgresStore.open(url);
  const sql = new pg.Client({
    connectionString: POSTGRES_URL,
    options: `-c search_path="${schema}"`,
  });
  try {
    await store.nextExpiry(); // migrated
    await other.nextExpiry();
    await sql.connect();
    await test({ store, engine: new Engine(store) }, new Engine(other), sql);
  } finally {
    await sql.query('ROLLBACK').catch(() => undefined);
    await sql.end();
    await store.close();
    await other.close();
    await drop();
  }
}

/** Runs `batch` (transactions started at once, one batch) held at its first unit by a row lock. */
async function batchHeldByALock<T>(
  store: PostgresStore,
  sql: pg.Client,
  lockedRunId: string,
  batch: () => T,
  meanwhile: () => Promise<void>,
): Promise<T> {
  await sql.query('BEGIN');
  await sql.query('SELECT 1 FROM executions WHERE run_id = $1 FOR UPDATE', [lockedRunId]);
  const lane = await holdLane(store);
  const waiting = store.transaction((tx) => tx.getExecution(lockedRunId));
  const units = batch();
  await lane.release();
  await someoneWaitsForALock();
  await meanwhile();
  await sql.query('COMMIT');
  await waiting;
  return units;
}

describe('reads ahead racing another process', () => {
  test('the look-up of running runs answers only the start that asked: another unit reads afresh', () =>
    twoProcesses(async ({ store, engine }, elsewhere, sql) => {
      const lock = await start(engine, 'lock');
      const first = await start(engine, 'w');
      let replacement = '';
      const [asked, other] = await batchHeldByALock(
        store,
        sql,
        lock.runId,
        () => [
          store.transaction((tx) => tx.getRunningRunId('w'), { readsRunningOf: 'w' }),
          store.transaction((tx) => tx.getRunningRunId('w')),
          store.transaction(async () => undefined, { readsRunningOf: 'x' }),
        ],
        async () => {
          // Elsewhere, 'w' gets a new run while the batch waits (after its BEGIN).
          const started = await start(elsewhere, 'w', {
            workflowIdConflictPolicy: 'TERMINATE_EXISTING',
          });
          replacement = started.runId;
        },
      );
      // The start's answer is as of BEGIN (what it does with it is checked under the run's lock and
      // the unique index); any other unit's is the database's now.
      assert.equal(await asked, first.runId);
      assert.equal(await other, replacement);
    }));

  test('a signal-with-start that may look at the latest run signals a run started elsewhere meanwhile', () =>
    twoProcesses(async ({ store, engine }, elsewhere, sql) => {
      const lock = await start(engine, 'lock');
      let startedElsewhere = '';
      const [signalWithStart, plain] = await batchHeldByALock(
        store,
        sql,
        lock.runId,
        () => [
          start(engine, 'sws', {
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            signal: { name: 'hello', args: [] },
          }),
          start(engine, 'plain'),
        ],
        async () => {
          startedElsewhere = (await start(elsewhere, 'sws')).runId;
        },
      );
      await plain;
      assert.deepEqual(await signalWithStart, {
        runId: startedElsewhere,
        firstExecutionRunId: startedElsewhere,
        started: false,
      });
    }));

  test("a claim whose run moved on while the claim's statement ran has every event of the run", () =>
    twoProcesses(async ({ store, engine }, elsewhere, sql) => {
      // Ready workflow tasks ahead of the run's, held by another transaction: the claim passes
      // over them one by one (SKIP LOCKED), which takes long enough for a signal to commit.
      await sql.query(`INSERT INTO tasks (key, kind, run_id, task_queue, state, claim_token, data)
        SELECT 'filler-' || i || '/workflow', 'workflow', 'filler-' || i, 'q', 'ready', 0, '{}'
        FROM generate_series(1, 200000) i`);
      const { runId } = await start(engine, 'w');
      await sql.query('BEGIN');
      await sql.query(`SELECT 1 FROM tasks WHERE key LIKE 'filler-%' FOR UPDATE`);
      const claiming = engine.claimWorkflowTasks('q', 1, 'me', () => 1);
      const watcher = new pg.Client({ connectionString: POSTGRES_URL });
      await watcher.connect();
      try {
        for (;;) {
          const { rows } = await watcher.query(
            `SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%queue_partition = p.part%' AND query NOT LIKE '%pg_stat_activity%'`,
          );
          if (rows.length > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      } finally {
        await watcher.end();
      }
      await elsewhere.signalWorkflow('w', undefined, 'ping', [1]);
      const { grants } = await claiming;
      await sql.query('ROLLBACK');
      // Whether the signal came before the claim's lock (then the grant has it) or after its
      // commit, the grant's events follow each other with no gap: the Started event is numbered
      // after every event the run had.
      const ids = grants[0]?.history.map((e) => e.eventId) ?? [];
      assert.equal(grants[0]?.runId, runId);
      assert.deepEqual(
        ids,
        ids.map((_, i) => i + 1),
      );
      assert.equal(grants[0]?.history.at(-1)?.eventType, 'WorkflowTaskStarted');
      assert.ok(
        (await store.readHistory(runId, 1)).some(
          (e) => e.eventType === 'WorkflowExecutionSignaled',
        ),
      );
    }));
});
