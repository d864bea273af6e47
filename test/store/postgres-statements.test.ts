/**
 * How the PostgreSQL store talks to the server: pipelined statements, write statements whose cached
 * plans find rows by key however small the tables were when they were planned, and NOTIFY only for
 * what other processes need.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { Engine, type StartOptions } from '../../src/engine/engine.ts';
import { PendingWrites } from '../../src/store/postgres/pending-writes.ts';
import { hintChannels } from '../../src/store/postgres/notifications.ts';
import {
  PostgresStore,
  type PostgresStoreOptions,
} from '../../src/store/postgres/postgres-store.ts';
import { READY_WORKFLOW_TASKS } from '../../src/store/postgres/postgres-transaction.ts';
import { StatementPipeline } from '../../src/store/postgres/statement-pipeline.ts';
import type { StoreHint, StoreTransaction } from '../../src/store/store.ts';
import type { TaskRecord } from '../../src/state/tasks.ts';
import { freshSchema, holdLane, POSTGRES_URL } from '../helpers/postgres.ts';
import { activityTask, execution, hearingFromConnect, waitFor, workflowTask } from './records.ts';

async function connect(options: { pipeline?: boolean; search_path?: string } = {}) {
  const client = new pg.Client({
    connectionString: POSTGRES_URL,
    pipeline: options.pipeline ?? false,
    ...(options.search_path ? { options: `-c search_path=${options.search_path}` } : {}),
  });
  await client.connect();
  return client;
}

describe('statement pipeline', () => {
  test('statements go out without waiting for each other and are answered in order', async () => {
    const client = await connect({ pipeline: true });
    try {
      const pipeline = new StatementPipeline(client);
      void pipeline.send('BEGIN');
      void pipeline.send('CREATE TEMP TABLE p (v int) ON COMMIT DROP');
      void pipeline.send({ text: 'INSERT INTO p VALUES ($1), ($2)', values: [1, 2] });
      const rows = pipeline.send<{ total: number }>('SELECT sum(v)::int AS total FROM p');
      void pipeline.send('COMMIT');
      assert.deepEqual(await rows, [{ total: 3 }]);
      await pipeline.drain();
    } finally {
      await client.end();
    }
  });

  test('statements sent in the same tick leave in one write to the socket', async () => {
    const client = await connect({ pipeline: true });
    try {
      const socket = (client as unknown as { connection: { stream: import('node:net').Socket } })
        .connection.stream;
      const before = socket.bytesWritten;
      let writes = 0;
      const count = () => writes++;
      // A socket's writes end in _write (one chunk) or _writev (chunks held back by cork).
      const write = socket._write.bind(socket);
      const writev = socket._writev!.bind(socket);
      socket._write = (...args) => (count(), write(...args));
      socket._writev = (...args) => (count(), writev(...args));
      const pipeline = new StatementPipeline(client);
      void pipeline.send('BEGIN');
      void pipeline.send({ text: 'SELECT $1::int AS a', values: [1] });
      const rows = pipeline.send<{ b: number }>({ text: 'SELECT $1::int AS b', values: [2] });
      void pipeline.send('COMMIT');
      assert.deepEqual(await rows, [{ b: 2 }]);
      await pipeline.drain();
      assert.equal(writes, 1, 'four statements, one write');
      assert.ok(socket.bytesWritten > before);
      // A statement sent after the answers came is written on its own.
      await pipeline.send('SELECT 1');
      assert.equal(writes, 2);
    } finally {
      await client.end();
    }
  });

  test('after a failure every later statement and drain() report that first failure, and nothing commits', async () => {
    const client = await connect({ pipeline: true });
    const table = `keel_pipe_${process.pid}`;
    try {
      await client.query(`CREATE TABLE ${table} (v int PRIMARY KEY)`);
      const pipeline = new StatementPipeline(client);
      void pipeline.send('BEGIN');
      void pipeline.send(`INSERT INTO ${table} VALUES (1)`);
      void pipeline.send(`INSERT INTO ${table} VALUES (1)`); // duplicate key: the first failure
      const later = pipeline.send(`SELECT count(*) FROM ${table}`); // fails too: transaction aborted
      void pipeline.send('COMMIT'); // answers ROLLBACK, without an error of its own
      await assert.rejects(later, (error: Error & { code?: string }) => error.code === '23505');
      await assert.rejects(pipeline.drain(), (error: Error & { code?: string }) => {
        assert.equal(error.code, '23505');
        return true;
      });
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
      assert.deepEqual(rows, [{ n: 0 }]);
    } finally {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.end();
    }
  });
});

describe('write statements', () => {
  /** A connection to a fresh schema that Keel migrated, dropped afterwards. */
  async function onFreshSchema(test: (client: pg.Client) => Promise<void>) {
    const { url, schema, drop } = freshSchema();
    const store = PostgresStore.open(url);
    await store.nextExpiry(); // migrated
    const client = await connect({ search_path: `"${schema}"` });
    try {
      await test(client);
    } finally {
      await client.end();
      await store.close();
      await drop();
    }
  }

  /** The plan EXPLAIN prints, as one text. */
  const planText = (rows: { 'QUERY PLAN': string }[]) =>
    rows.map((r) => r['QUERY PLAN']).join('\n');

  test("a unit's writes find their rows by key even in plans made while the tables were tiny", () =>
    onFreshSchema(async (client) => {
      // The usual units: a step of one run (events, its state, a task done, a task scheduled),
      // and the close of a run (its remaining tasks deleted, search attributes replaced).
      const step = new PendingWrites();
      step.appendEvents('run-1', [
        { eventId: 5, eventTime: 1, eventType: 'TimerFired', attributes: {} } as never,
      ]);
      step.updateExecution(execution({ runId: 'run-1' }));
      step.applyTaskChanges([
        { op: 'delete', key: 'run-1/activity/3' },
        { op: 'put', task: activityTask('run-1', 6) },
      ]);
      const close = new PendingWrites();
      close.updateExecution(execution({ runId: 'run-2', status: 'Completed', closeTime: 9 }));
      close.applyTaskChanges([{ op: 'delete-run', runId: 'run-2' }]);
      close.replaceSearchAttributes('run-2', { CustomerId: { type: 'Keyword', value: 'c-1' } });
      // A workflow task completed in the transaction that claimed it, after an activity of the
      // same run (two tasks deleted), and a claim of two runs' tasks (two runs updated).
      const inline = new PendingWrites();
      inline.updateExecution(execution({ runId: 'run-3' }));
      inline.applyTaskChanges([
        { op: 'delete', key: 'run-3/activity/5' },
        { op: 'delete', key: 'run-3/workflow' },
      ]);
      const claim = new PendingWrites();
      claim.updateExecution(execution({ runId: 'run-4' }));
      claim.updateExecution(execution({ runId: 'run-5' }));
      await client.query('SET plan_cache_mode = force_generic_plan');
      for (const [i, writes] of [step, close, inline, claim].entries()) {
        const { text, values } = writes.toStatement();
        await client.query(`PREPARE w${i} AS ${text}`);
        const literals = values
          .map((v) => (v === null || v === undefined ? 'NULL' : client.escapeLiteral(toText(v))))
          .join(', ');
        const plan = planText((await client.query(`EXPLAIN EXECUTE w${i}(${literals})`)).rows);
        assert.doesNotMatch(plan, /Seq Scan/, plan);
      }
    }));

  test('the claim of workflow tasks finds their runs and histories by key, even in a plan made while the tables were tiny', () =>
    onFreshSchema(async (client) => {
      await client.query('SET plan_cache_mode = force_generic_plan');
      await client.query(`PREPARE claim AS ${READY_WORKFLOW_TASKS}`);
      const plan = planText(
        (await client.query(`EXPLAIN EXECUTE claim('workflow', 'q', 32, '{0,1,2,3}', 64)`)).rows,
      );
      assert.doesNotMatch(plan, /Seq Scan/, plan);
      assert.match(plan, /Index Scan using executions_pkey/, plan);
    }));

  test("a batch's update of many runs finds them by key in a table of thousands", () =>
    onFreshSchema(async (client) => {
      await client.query(`INSERT INTO executions (run_id, workflow_id, workflow_type, task_queue, status,
          start_time, history_length, state)
        SELECT 'run-' || n, 'wf-' || n, 'w3', 'q', 'Completed', n, 10, repeat('x', 300)
        FROM generate_series(1, 2000) AS n`);
      // 2,000 runs: enough that without the keys as an array the planner scans them all.
      await client.query('ANALYZE executions');
      // More runs than are addressed by key one by one: an unnamed statement, planned as it comes.
      const batch = new PendingWrites();
      for (let n = 6; n <= 37; n++) batch.updateExecution(execution({ runId: `run-${n}` }));
      const { text, values } = batch.toStatement();
      assert.match(text, /json_to_recordset/);
      const plan = planText((await client.query(`EXPLAIN ${text}`, values)).rows);
      assert.doesNotMatch(plan, /Seq Scan/, plan);
      await client.query(text, values);
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM executions WHERE status = 'Running'`,
      );
      assert.deepEqual(rows, [{ n: 32 }]);
    }));

  test('a statement is prepared under the same name however many notifications it sends, and sends them all', () =>
    onFreshSchema(async (client) => {
      await client.query('LISTEN "keel_w_test"');
      const heard: string[] = [];
      client.on('notification', (message) => heard.push(message.payload ?? ''));
      const step = (count: number) => {
        const writes = new PendingWrites();
        writes.applyTaskChanges([{ op: 'put', task: activityTask('run-1', count) }]);
        return writes.toStatement(
          Array.from({ length: count }, (_, i) => ({
            channel: 'keel_w_test',
            payload: `${count}:${i}`,
          })),
        );
      };
      // One name for every count above two: the name (63 bytes at most) cannot grow with it.
      const names = [3, 9, 200].map((count) => step(count).name);
      assert.deepEqual(names, ['keel_w_tN', 'keel_w_tN', 'keel_w_tN']);
      assert.equal(step(2).name, 'keel_w_tnn');
      for (const count of [1, 3, 9]) {
        const statement = step(count);
        await client.query(statement);
      }
      await waitFor(() => heard.length === 13, 'every notification');
      assert.deepEqual(heard, [
        '1:0',
        '3:0',
        '3:1',
        '3:2',
        ...Array.from({ length: 9 }, (_, i) => `9:${i}`),
      ]);
    }));
});

/** A parameter as PostgreSQL's text input takes it (arrays as literals). */
function toText(value: unknown): string {
  if (Array.isArray(value))
    return `{${value.map((v) => (v === null ? 'NULL' : JSON.stringify(String(v)))).join(',')}}`;
  return String(value);
}

describe('notifications', () => {
  /** Two processes' stores on a fresh schema: `a` writes, and what `b` heard since it listens. */
  async function twoStores(
    test: (a: PostgresStore, heard: StoreHint[]) => Promise<void>,
    listener: PostgresStoreOptions = {},
  ) {
    const { url, drop } = freshSchema();
    const a = PostgresStore.open(url);
    const b = PostgresStore.open(url, listener);
    try {
      await test(a, await hearingFromConnect(b));
    } finally {
      await a.close();
      await b.close();
      await drop();
    }
  }

  test("a schema's processes do not hear another schema's commits in the same database", async () => {
    const mine = freshSchema();
    const other = freshSchema();
    const listener = PostgresStore.open(mine.url);
    const writer = PostgresStore.open(mine.url);
    const stranger = PostgresStore.open(other.url);
    try {
      const heard = await hearingFromConnect(listener);
      const readyOn = (store: PostgresStore, runId: string, taskQueue: string) =>
        store.transaction(async (tx) => {
          await tx.insertExecution(execution({ runId, workflowId: runId }));
          await tx.applyTaskChanges([{ op: 'put', task: activityTask(runId, 5, { taskQueue }) }]);
        });
      // Notifications reach a listener in commit order: had the first reached it, it would
      // have come before the second.
      await readyOn(stranger, 'run-s', 'strangers');
      await readyOn(writer, 'run-m', 'mine');
      await waitFor(() => heard.length > 0, "this schema's commit");
      assert.deepEqual(heard, [{ type: 'task-ready', kind: 'activity', taskQueue: 'mine' }]);
    } finally {
      await Promise.all([listener.close(), writer.close(), stranger.close()]);
      await Promise.all([mine.drop(), other.drop()]);
    }
  });

  test('a long schema name gets channel names short enough for PostgreSQL, and its own', () => {
    const long = 'k'.repeat(60);
    assert.deepEqual(hintChannels('keel'), { work: 'keel_hints_keel', runs: 'keel_runs_keel' });
    for (const channel of Object.values(hintChannels(long)))
      assert.ok(Buffer.byteLength(channel) <= 63);
    assert.notDeepEqual(hintChannels(long), hintChannels(`${long}x`));
  });

  test('other processes hear of ready tasks and closed runs, not of leases due in seconds', () =>
    twoStores(async (a, heard) => {
      const now = Date.now();
      const run = execution({ runId: 'run-h', workflowId: 'wf-h' });
      await a.transaction(async (tx) => {
        await tx.insertExecution(run);
        await tx.applyTaskChanges([
          // A claimed task's lease: every claim sets one; no other process needs to hear of it.
          {
            op: 'put',
            task: workflowTask('run-h', {
              state: 'claimed',
              claimToken: 7,
              expiresAt: now + 10_000,
            }),
          },
        ]);
      });
      await a.transaction(async (tx) => {
        await tx.updateExecution({ ...run, status: 'Completed', closeTime: now });
        await tx.applyTaskChanges([
          { op: 'put', task: activityTask('run-h', 5, { taskQueue: 'marker' }) },
          { op: 'put', task: workflowTask('run-h', { state: 'waiting', expiresAt: now + 300 }) },
        ]);
      });
      // Hints of work and of runs travel on channels of their own: two notifications.
      await waitFor(
        () =>
          heard.some((h) => h.type === 'task-ready') && heard.some((h) => h.type === 'run-closed'),
        'the second commit',
      );
      assert.deepEqual(
        heard.filter((h) => h.type !== 'external-change'),
        [
          { type: 'task-ready', kind: 'activity', taskQueue: 'marker' },
          { type: 'expiry', at: now + 300 },
          { type: 'run-closed', runId: 'run-h' },
        ],
      );
    }));

  /** Commits a run that closes with a task ready on queue `marker`; then one more ready task. */
  async function closeWithWork(a: PostgresStore) {
    const run = execution({ runId: 'run-w', workflowId: 'wf-w' });
    await a.transaction((tx) => tx.insertExecution(run));
    await a.transaction(async (tx) => {
      await tx.updateExecution({ ...run, status: 'Completed', closeTime: Date.now() });
      await tx.applyTaskChanges([
        { op: 'put', task: activityTask('run-w', 5, { taskQueue: 'marker' }) },
      ]);
    });
    // Notifications reach a listener in commit order: this one last.
    await a.transaction(async (tx) => {
      await tx.insertExecution(execution({ runId: 'run-last', workflowId: 'wf-last' }));
      await tx.applyTaskChanges([
        { op: 'put', task: activityTask('run-last', 5, { taskQueue: 'last' }) },
      ]);
    });
  }

  test("a process that hears only of work (a worker's) does not hear runs close", () =>
    twoStores(
      async (a, heard) => {
        await closeWithWork(a);
        await waitFor(
          () => heard.some((h) => h.type === 'task-ready' && h.taskQueue === 'last'),
          'the last commit',
        );
        assert.deepEqual(heard, [
          { type: 'task-ready', kind: 'activity', taskQueue: 'marker' },
          { type: 'task-ready', kind: 'activity', taskQueue: 'last' },
        ]);
      },
      { hints: 'work' },
    ));

  test("a process that hears only of runs (a client's) does not hear tasks become ready", () =>
    twoStores(
      async (a, heard) => {
        await closeWithWork(a);
        await a.transaction(async (tx) => {
          const run = execution({ runId: 'run-last', workflowId: 'wf-last' });
          await tx.updateExecution({ ...run, status: 'Completed', closeTime: Date.now() });
        });
        await waitFor(
          () => heard.some((h) => h.type === 'run-closed' && h.runId === 'run-last'),
          'the last commit',
        );
        assert.deepEqual(heard, [
          { type: 'run-closed', runId: 'run-w' },
          { type: 'run-closed', runId: 'run-last' },
        ]);
      },
      { hints: 'runs' },
    ));

  test("a run's outcome goes with its run-closed hint when it fits in a notification, else the hint alone", () =>
    twoStores(async (a, heard) => {
      const close = async (runId: string, result: string) => {
        const run = execution({ runId, workflowId: runId, nextEventId: 2 });
        await a.transaction((tx) => tx.insertExecution(run));
        const closing = {
          eventId: 2,
          eventTime: 5,
          eventType: 'WorkflowExecutionCompleted' as const,
          attributes: { result, workflowTaskCompletedEventId: 1 },
        };
        await a.transaction(async (tx) => {
          await tx.appendEvents(runId, [closing]);
          await tx.updateExecution({ ...run, nextEventId: 3, status: 'Completed' });
        });
        await waitFor(
          () => heard.some((h) => h.type === 'run-closed' && h.runId === runId),
          `${runId} closed`,
        );
        return { closing, hint: heard.find((h) => h.type === 'run-closed' && h.runId === runId) };
      };
      const small = await close('run-small', 'ok');
      assert.deepEqual(small.hint, {
        type: 'run-closed',
        runId: 'run-small',
        outcome: { status: 'Completed', closing: small.closing },
      });
      // 10,000 characters: over NOTIFY's limit of 8000 bytes.
      const big = await close('run-big', 'x'.repeat(10_000));
      assert.deepEqual(big.hint, { type: 'run-closed', runId: 'run-big' });
    }));

  test('runs closed in one transaction each carry their outcome, over as many notifications as it takes', () =>
    twoStores(async (a, heard) => {
      // 40 results of 300 characters: twice what one notification holds.
      const runs = Array.from({ length: 40 }, (_, i) =>
        execution({ runId: `run-${i}`, workflowId: `wf-${i}`, nextEventId: 2 }),
      );
      const closing = (i: number) => ({
        eventId: 2,
        eventTime: 5,
        eventType: 'WorkflowExecutionCompleted' as const,
        attributes: { result: `${i}`.padEnd(300, '.'), workflowTaskCompletedEventId: 1 },
      });
      await a.transaction(async (tx) => {
        for (const run of runs) await tx.insertExecution(run);
      });
      await a.transaction(async (tx) => {
        for (const [i, run] of runs.entries()) {
          await tx.appendEvents(run.runId, [closing(i)]);
          await tx.updateExecution({ ...run, nextEventId: 3, status: 'Completed' });
        }
      });
      const closed = () => heard.filter((h) => h.type === 'run-closed');
      await waitFor(() => closed().length === runs.length, 'every run closed');
      assert.deepEqual(
        closed(),
        runs.map((run, i) => ({
          type: 'run-closed',
          runId: run.runId,
          outcome: { status: 'Completed', closing: closing(i) },
        })),
      );
    }));
});

describe('batches', () => {
  /** Transactions queued behind one that holds the only lane run together, as one batch. */
  async function batched(
    store: PostgresStore,
    units: ((tx: StoreTransaction) => Promise<unknown>)[],
    /** What the units read first: the same for all, or one each. */
    reads?: { runId: string; taskKey: string } | { runId: string; taskKey: string }[],
  ): Promise<PromiseSettledResult<unknown>[]> {
    const lane = await holdLane(store);
    const results = Promise.allSettled(
      units.map((work, i) =>
        store.transaction(work, { reads: Array.isArray(reads) ? reads[i] : reads }),
      ),
    );
    await lane.release();
    return results;
  }

  test('a unit reads what the units before it in its batch wrote, not what was read ahead for it', async () => {
    const { url, drop } = freshSchema();
    const store = PostgresStore.open(url, { batchLanes: 1 });
    try {
      const task = workflowTask('run-b', { state: 'claimed', claimToken: 1 });
      await store.transaction(async (tx) => {
        await tx.insertExecution(execution({ runId: 'run-b', workflowId: 'wf-b', nextEventId: 1 }));
        await tx.applyTaskChanges([{ op: 'put', task }]);
      });
      const step = async (tx: StoreTransaction) => {
        const { state } = await tx.getExecutionAndTask('run-b', task.key);
        await tx.updateExecution({ ...state!, nextEventId: state!.nextEventId + 1 });
      };
      const failing = async (tx: StoreTransaction) => {
        await step(tx);
        throw new Error('an engine error: this unit alone is rolled back');
      };
      const results = await batched(store, [step, failing, step, step], {
        runId: 'run-b',
        taskKey: task.key,
      });
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
      );
      assert.equal((await store.getExecution('run-b'))?.nextEventId, 4);
    } finally {
      await store.close();
      await drop();
    }
  });

  test('units on runs this process wrote last, one of which another process changed since, all see what is there', async () => {
    const { url, drop } = freshSchema();
    const a = PostgresStore.open(url, { batchLanes: 1 });
    const b = PostgresStore.open(url);
    try {
      const tasks = ['run-x', 'run-y'].map((runId) =>
        activityTask(runId, 3, { state: 'claimed', claimToken: 1 }),
      );
      await a.transaction(async (tx) => {
        for (const task of tasks) {
          await tx.insertExecution(
            execution({ runId: task.runId, workflowId: task.runId, nextEventId: 4 }),
          );
          await tx.applyTaskChanges([{ op: 'put', task }]);
        }
      });
      await b.transaction(async (tx) => {
        const state = await tx.getExecution('run-y');
        await tx.updateExecution({ ...state!, nextEventId: 9 });
      });
      // What each attempt of each unit read: the batch took both runs as it wrote them, failed on
      // run-y's check, and ran again reading them.
      const seen: Record<string, number[]> = { 'run-x': [], 'run-y': [] };
      const results = await batched(
        a,
        tasks.map((task) => async (tx: StoreTransaction) => {
          const { state } = await tx.getExecutionAndTask(task.runId, task.key);
          seen[task.runId]!.push(state!.nextEventId);
          await tx.updateExecution({ ...state!, nextEventId: state!.nextEventId + 1 });
          return state!.nextEventId;
        }),
        tasks.map((task) => ({ runId: task.runId, taskKey: task.key })),
      );
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason)),
        [4, 9],
      );
      assert.deepEqual(seen, { 'run-x': [4, 4], 'run-y': [4, 9] });
      assert.equal((await a.getExecution('run-x'))?.nextEventId, 5);
      assert.equal((await a.getExecution('run-y'))?.nextEventId, 10);
    } finally {
      await a.close();
      await b.close();
      await drop();
    }
  });
});

describe('a batch under load', () => {
  const read = (tx: StoreTransaction) => tx.getExecution('nobody');
  const nextTurnOfTheLoop = () => new Promise((resolve) => setImmediate(resolve));

  /** Makes the last batch of `store` (one lane) one of `size` units. */
  async function lastBatchOf(store: PostgresStore, size: number): Promise<void> {
    const lane = await holdLane(store);
    const queued = Promise.all(Array.from({ length: size }, () => store.transaction(read)));
    await lane.release();
    await queued;
  }

  /** The BEGINs of `count` units, each arriving a turn of the event loop after the one before. */
  async function transactionsOfUnitsArrivingApart(store: PostgresStore, count: number) {
    const sent = await statementsDuring(async () => {
      const units: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        units.push(store.transaction(read));
        await nextTurnOfTheLoop();
      }
      await Promise.all(units);
    });
    return sent.filter((statement) => statement.startsWith('BEGIN')).length;
  }

  test('waits for as many units as the last batch held, and starts as soon as they are queued', async () => {
    const { url, drop } = freshSchema();
    const gathering = PostgresStore.open(url, { batchLanes: 1, batchGatherMs: 5_000 });
    const eager = PostgresStore.open(url, { batchLanes: 1, batchGatherMs: 0 });
    try {
      for (const store of [gathering, eager]) {
        await store.transaction(read); // migrated
        await lastBatchOf(store, 3);
      }
      const started = performance.now();
      assert.equal(await transactionsOfUnitsArrivingApart(gathering, 3), 1);
      assert.ok(performance.now() - started < 2_500, 'started once the third unit was queued');
      // Without gathering, the first unit starts alone at once and the others queue behind it.
      assert.ok((await transactionsOfUnitsArrivingApart(eager, 3)) >= 2);
    } finally {
      await gathering.close();
      await eager.close();
      await drop();
    }
  });

  test('a lone unit after a bigger batch waits at most batchGatherMs; after a lone unit, not at all', async () => {
    const { url, drop } = freshSchema();
    const store = PostgresStore.open(url, { batchLanes: 1, batchGatherMs: 200 });
    try {
      await store.transaction(read); // migrated
      await lastBatchOf(store, 3);
      let started = performance.now();
      await store.transaction(read);
      const afterBatch = performance.now() - started;
      assert.ok(afterBatch >= 190, `waited ${afterBatch} ms for more units`);
      started = performance.now();
      await store.transaction(read);
      const afterLone = performance.now() - started;
      assert.ok(afterLone < 190, `a unit after a lone one waited ${afterLone} ms`);
    } finally {
      await store.close();
      await drop();
    }
  });
});

/** The statements (their names, or their text) sent on any connection while `work` runs. */
async function statementsDuring(work: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back as it was, called with each client as this
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
    const statement = config as string | { name?: string; text: string };
    sent.push(typeof statement === 'string' ? statement : (statement.name ?? statement.text));
    return (query as (...args: unknown[]) => unknown).call(this, config, ...rest);
  } as typeof query;
  try {
    await work();
  } finally {
    pg.Client.prototype.query = query;
  }
  return sent;
}

describe('starts in one batch', () => {
  const start = (engine: Engine, workflowId: string, options: StartOptions = {}) =>
    engine.startWorkflow(
      { workflowId, workflowType: 'w', taskQueue: 'q', input: [], workflowTaskTimeout: 10_000 },
      options,
    );

  test('look up their workflow ids in one statement and write in one, reading nothing each', async () => {
    const { url, drop } = freshSchema();
    const store = PostgresStore.open(url, { batchLanes: 1 });
    const engine = new Engine(store);
    try {
      await start(engine, 'warm-up'); // migrated, and the lone start's statements prepared
      const lane = await holdLane(store);
      let started: { runId: string }[] = [];
      const sent = await statementsDuring(async () => {
        const starts = Promise.all(['a', 'b', 'c', 'd'].map((id) => start(engine, id)));
        await lane.release();
        started = await starts;
      });
      const lookups = sent.filter((s) => s.includes('workflow_id = ANY'));
      const ownReads = sent.filter((s) => s === 'keel_running_run');
      const writes = sent.filter((s) => s.startsWith('keel_w_'));
      assert.deepEqual(
        [lookups.length, ownReads.length, writes.length],
        [1, 0, 1],
        sent.join('; '),
      );
      for (const [i, id] of ['a', 'b', 'c', 'd'].entries()) {
        const found = await store.findExecution(id);
        assert.equal(found?.runId, started[i]!.runId);
        assert.equal(found?.status, 'Running');
      }
    } finally {
      await store.close();
      await drop();
    }
  });

  test('each sees the runs started before the batch and by the starts before it in the batch', async () => {
    const { url, drop } = freshSchema();
    const store = PostgresStore.open(url, { batchLanes: 1 });
    const engine = new Engine(store);
    try {
      const old = await start(engine, 'old');
      const lane = await holdLane(store);
      let results: PromiseSettledResult<Awaited<ReturnType<typeof start>>>[] = [];
      const sent = await statementsDuring(async () => {
        const settled = Promise.allSettled([
          start(engine, 'new'),
          start(engine, 'new'), // FAIL: the one above is running now
          start(engine, 'new', { workflowIdConflictPolicy: 'USE_EXISTING' }),
          start(engine, 'old'),
          start(engine, 'old', { workflowIdConflictPolicy: 'TERMINATE_EXISTING' }),
          start(engine, 'old', { workflowIdConflictPolicy: 'USE_EXISTING' }),
        ]);
        await lane.release();
        results = await settled;
      });
      // One transaction: had a start taken what was looked up ahead after the batch changed it,
      // the unique index of running workflow ids would have failed the batch, and each start would
      // have run again alone.
      assert.equal(sent.filter((s) => s.startsWith('BEGIN')).length, 1, sent.join('; '));
      const [first, again, existing, oldAgain, replacing, afterReplacing] = results.map((r) =>
        r.status === 'fulfilled' ? r.value : String(r.reason),
      );
      const newRun = typeof first === 'object' ? first.runId : assert.fail(String(first));
      assert.match(typeof again === 'string' ? again : 'started', /already running/);
      assert.deepEqual(existing, { runId: newRun, firstExecutionRunId: newRun, started: false });
      assert.match(typeof oldAgain === 'string' ? oldAgain : 'started', /already running/);
      const replacement = typeof replacing === 'object' ? replacing.runId : assert.fail(replacing);
      assert.notEqual(replacement, old.runId);
      // Not the run the batch looked up ahead (terminated by the start before it): the new one.
      assert.deepEqual(afterReplacing, {
        runId: replacement,
        firstExecutionRunId: replacement,
        started: false,
      });
      assert.equal((await store.getExecution(old.runId))?.status, 'Terminated');
      assert.equal((await store.findExecution('old'))?.runId, replacement);
    } finally {
      await store.close();
      await drop();
    }
  });
});

describe('claims of workflow tasks', () => {
  const start = (engine: Engine, workflowId: string) =>
    engine.startWorkflow({
      workflowId,
      workflowType: 'w',
      taskQueue: 'claims',
      input: [],
      workflowTaskTimeout: 10_000,
    });

  test("a new run's task comes with its run and history in one statement", async () => {
    const { url, drop } = freshSchema();
    const store = PostgresStore.open(url);
    const engine = new Engine(store);
    try {
      const { runId } = await start(engine, 'fresh');
      let claimed: Awaited<ReturnType<Engine['claimWorkflowTasks']>> | undefined;
      const sent = await statementsDuring(
        async () => (claimed = await engine.claimWorkflowTasks('claims', 8, 'me', () => 1)),
      );
      const [grant] = claimed!.grants;
      assert.equal(grant?.runId, runId);
      assert.deepEqual(
        grant.history.map((e) => [e.eventId, e.eventType]),
        [
          [1, 'WorkflowExecutionStarted'],
          [2, 'WorkflowTaskScheduled'],
          [3, 'WorkflowTaskStarted'],
        ],
      );
      assert.equal(grant.history[0]!.attributes.constructor, Object);
      // The store's named statements other than writes (its LISTEN may go out meanwhile too).
      const reads = sent.filter((s) => /^keel_(?!w_)/.test(s));
      assert.deepEqual(reads, ['keel_ready_workflow_tasks'], sent.join('; '));
    } finally {
      await store.close();
      await drop();
    }
  });

  test('a long history is read apart, and any history only from where the worker needs it', async () => {
    const { url, drop } = freshSchema();
    const store = PostgresStore.open(url);
    const engine = new Engine(store);
    try {
      const short = await start(engine, 'short');
      const long = await start(engine, 'long');
      for (let i = 0; i < 70; i++) await engine.signalWorkflow('long', undefined, 'ping', [i]);
      // The worker has both cached up to event 2 (say): it needs events 3 on.
      const sent = await statementsDuring(async () => {
        const { grants } = await engine.claimWorkflowTasks('claims', 8, 'me', () => 3);
        assert.equal(grants.length, 2);
        for (const grant of grants) assert.equal(grant.history[0]!.eventId, 3);
        const longGrant = grants.find((g) => g.runId === long.runId)!;
        assert.equal(longGrant.history.length, 71, 'the signals, and the Started event');
        assert.ok(grants.some((g) => g.runId === short.runId));
      });
      assert.deepEqual(
        sent.filter((s) => s.startsWith('keel_read_history')),
        ['keel_read_history_tx'],
        'one run over HISTORY_WITH_CLAIM_MAX events: its history read apart',
      );
    } finally {
      await store.close();
      await drop();
    }
  });
});

describe('rows this process wrote last', () => {
  /** A run with an activity task claimed by `store`'s process, as a worker that took it eagerly has. */
  async function runWithClaimedTask(store: PostgresStore, runId: string) {
    const task = activityTask(runId, 3, { state: 'claimed', claimToken: 1, expiresAt: 60_000 });
    await store.transaction(async (tx) => {
      await tx.insertExecution(execution({ runId, workflowId: runId, nextEventId: 4 }));
      await tx.applyTaskChanges([{ op: 'put', task }]);
    });
    return task;
  }

  /** The completion of `task`: what it read (the run's next event id and the task's claim token). */
  function complete(store: PostgresStore, task: { runId: string; key: string }) {
    const seen: [number, number][] = [];
    const done = store.transaction(
      async (tx) => {
        const { state, task: held } = await tx.getExecutionAndTask(task.runId, task.key);
        seen.push([state!.nextEventId, held!.claimToken]);
        await tx.updateExecution({ ...state!, nextEventId: state!.nextEventId + 1 });
        await tx.applyTaskChanges([{ op: 'delete', key: task.key }]);
      },
      { reads: { runId: task.runId, taskKey: task.key } },
    );
    return done.then(() => seen);
  }

  test('a completion of a run and task this process wrote last waits for no read: one statement sent with it checks them', async () => {
    const { url, drop } = freshSchema();
    const store = PostgresStore.open(url, { batchLanes: 1 });
    try {
      const task = await runWithClaimedTask(store, 'run-k');
      let seen: [number, number][] = [];
      const sent = await statementsDuring(async () => (seen = await complete(store, task)));
      assert.deepEqual(seen, [[4, 1]]);
      assert.ok(sent.includes('keel_expect_rows'), sent.join('; '));
      assert.deepEqual(
        sent.filter((s) => s.startsWith('keel_lock') || s.includes('FOR UPDATE')),
        [],
        'no statement reads the rows',
      );
      assert.equal((await store.getExecution('run-k'))?.nextEventId, 5);
      assert.equal(await store.getTask(task.key), undefined);
    } finally {
      await store.close();
      await drop();
    }
  });

  test('a run or task that another process changed since is read again, not taken as this process wrote it', async () => {
    const { url, drop } = freshSchema();
    const a = PostgresStore.open(url, { batchLanes: 1 });
    const b = PostgresStore.open(url);
    try {
      // Another process appended to the run (a signal, say): the completion sees it and keeps it.
      const first = await runWithClaimedTask(a, 'run-s');
      await b.transaction(async (tx) => {
        const state = await tx.getExecution('run-s');
        await tx.updateExecution({ ...state!, nextEventId: 9 });
      });
      assert.deepEqual(await complete(a, first), [
        [4, 1],
        [9, 1],
      ]);
      assert.equal((await a.getExecution('run-s'))?.nextEventId, 10);

      // Another process took the task over (its lease had expired): the late completion sees the
      // new claim token, which is what fences it off.
      const second = await runWithClaimedTask(a, 'run-t');
      await b.transaction(async (tx) => {
        const task = await tx.getTask(second.key);
        await tx.applyTaskChanges([{ op: 'put', task: { ...task!, claimToken: 2 } }]);
      });
      assert.deepEqual(await complete(a, second), [
        [4, 1],
        [4, 2],
      ]);
      // What it wrote then is what it knows: the next completion on the run takes it as written.
      const third = activityTask('run-t', 5, { state: 'claimed', claimToken: 3 });
      await a.transaction(async (tx) => tx.applyTaskChanges([{ op: 'put', task: third }]));
      let seen: [number, number][] = [];
      const sent = await statementsDuring(async () => (seen = await complete(a, third)));
      assert.deepEqual(seen, [[5, 3]]);
      assert.ok(sent.includes('keel_expect_rows') && !sent.some((s) => s.startsWith('keel_lock')));
    } finally {
      await a.close();
      await b.close();
      await drop();
    }
  });

  test('any change to a column of the task is seen: its lease, its holder, its data', async () => {
    const { url, drop } = freshSchema();
    const a = PostgresStore.open(url, { batchLanes: 1 });
    const b = PostgresStore.open(url);
    try {
      const changes: ((task: TaskRecord) => TaskRecord)[] = [
        (task) => ({ ...task, expiresAt: 90_000 }),
        (task) => ({ ...task, claimedBy: 'another-worker' }),
        (task) => ({ ...task, data: { ...(task.data as object), attempt: 2 } }) as TaskRecord,
      ];
      for (const [n, change] of changes.entries()) {
        const task = await runWithClaimedTask(a, `run-c${n}`);
        await b.transaction(async (tx) => {
          await tx.applyTaskChanges([{ op: 'put', task: change((await tx.getTask(task.key))!) }]);
        });
        let held: TaskRecord | undefined;
        await a.transaction(
          async (tx) => void ({ task: held } = await tx.getExecutionAndTask(task.runId, task.key)),
          { reads: { runId: task.runId, taskKey: task.key } },
        );
        assert.deepEqual(held, change(task), `change ${n}`);
      }
    } finally {
      await a.close();
      await b.close();
      await drop();
    }
  });

  test('with rememberWrittenRows: false every completion reads its rows', async () => {
    const { url, drop } = freshSchema();
    const store = PostgresStore.open(url, { batchLanes: 1, rememberWrittenRows: false });
    try {
      const task = await runWithClaimedTask(store, 'run-r');
      let seen: [number, number][] = [];
      const sent = await statementsDuring(async () => (seen = await complete(store, task)));
      assert.deepEqual(seen, [[4, 1]]);
      assert.ok(sent.includes('keel_lock_execution_and_task'), sent.join('; '));
      assert.ok(!sent.includes('keel_expect_rows'));
    } finally {
      await store.close();
      await drop();
    }
  });
});
