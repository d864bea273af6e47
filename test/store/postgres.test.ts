/** The PostgreSQL store: the contract suite, plus what only a shared network database has. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { StoreError } from '../../src/common/errors.ts';
import { Engine } from '../../src/engine/engine.ts';
import {
  LATEST_POSTGRES_SCHEMA_VERSION,
  loadMigrations,
} from '../../src/store/postgres/migrations.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { Client } from '../../src/client/index.ts';
import { Worker } from '../../src/worker/index.ts';
import * as basicActivities from '../fixtures/basic-activities.ts';
import * as basicWorkflows from '../fixtures/basic-workflows.ts';
import { freshSchema, POSTGRES_URL, seatHolderQuery } from '../helpers/postgres.ts';
import { storeContract, type StoreFixture } from './contract.ts';
import {
  activityTask,
  assertGrantedOnce,
  claimRound,
  createRaceTasks,
  execution,
  hearingFromConnect,
  waitFor,
  workflowTask,
  type Grant,
} from './records.ts';

function postgresFixture() {
  return async (): Promise<StoreFixture> => {
    const { url, drop } = freshSchema();
    const opened: PostgresStore[] = [];
    const open = () => {
      const store = PostgresStore.open(url, { maxConnections: 4 });
      opened.push(store);
      return store;
    };
    return {
      store: open(),
      reopen: async () => open(),
      async cleanup() {
        for (const store of opened) await store.close();
        await drop();
      },
    };
  };
}

storeContract('postgres', postgresFixture());

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A worker of the basic fixtures on `taskQueue` and a client, each opening `url`, around `use`. */
async function withWorkerAndClient(
  url: string,
  taskQueue: string,
  use: (client: Client) => Promise<void>,
): Promise<void> {
  const worker = await Worker.create({
    connection: url,
    taskQueue,
    workflows: basicWorkflows,
    activities: basicActivities,
    handleSignals: false,
  });
  const client = new Client({ connection: url });
  const running = worker.run();
  try {
    await use(client);
  } finally {
    worker.shutdown();
    await running;
    await client.close();
  }
}

describe('postgres specifics', () => {
  test('ten stores opening one new schema at once migrate it exactly once', async () => {
    const { url, schema, drop } = freshSchema();
    const stores = Array.from({ length: 10 }, () => PostgresStore.open(url, { maxConnections: 2 }));
    try {
      await Promise.all(stores.map((s) => s.nextExpiry()));
      const version = await admin((c) =>
        c.query(`SELECT value FROM "${schema}".keel_meta WHERE key = 'schema_version'`),
      );
      assert.deepEqual(version.rows, [{ value: String(LATEST_POSTGRES_SCHEMA_VERSION) }]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await drop();
    }
  });

  test('a schema newer than the code, or holding foreign tables, is refused with the reason', async () => {
    const newer = freshSchema();
    const foreign = freshSchema();
    try {
      const first = PostgresStore.open(newer.url);
      await first.nextExpiry();
      await first.close();
      await admin((c) =>
        c.query(`UPDATE "${newer.schema}".keel_meta SET value = '99' WHERE key = 'schema_version'`),
      );
      const again = PostgresStore.open(newer.url);
      await assert.rejects(again.nextExpiry(), (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.match(
          error.message,
          new RegExp(
            `schema version 99, newer than this Keel knows \\(${LATEST_POSTGRES_SCHEMA_VERSION}\\)`,
          ),
        );
        return true;
      });
      await again.close();

      await admin((c) =>
        c.query(
          `CREATE SCHEMA "${foreign.schema}"; CREATE TABLE "${foreign.schema}".users (id int)`,
        ),
      );
      const wrong = PostgresStore.open(foreign.url);
      await assert.rejects(wrong.nextExpiry(), /holds tables that are not Keel's \(users\)/);
      await wrong.close();
    } finally {
      await newer.drop();
      await foreign.drop();
    }
  });

  test('a schema-3 database holding running workflows upgrades to the latest, and they complete', async () => {
    const source = freshSchema(); // where Keel writes real rows, at the latest schema
    const old = freshSchema(); // built to schema 3 from the migration files, then given those rows
    try {
      const starter = new Client({ connection: source.url });
      for (let i = 0; i < 3; i++) {
        await starter.workflow.start(basicWorkflows.w3, {
          taskQueue: 'upgrade',
          workflowId: `up-${i}`,
          args: [i * 10],
        });
      }
      await starter.close();
      await admin(async (c) => {
        await c.query(`CREATE SCHEMA "${old.schema}"; SET search_path TO "${old.schema}"`);
        for (const migration of loadMigrations().filter((m) => m.version <= 3))
          await c.query(migration.sql);
        await c.query(`INSERT INTO keel_meta (key, value) VALUES ('schema_version', '3')`);
        const from = `"${source.schema}"`;
        await c.query(`INSERT INTO executions SELECT * FROM ${from}.executions`);
        await c.query(`INSERT INTO history_events SELECT * FROM ${from}.history_events`);
        const taskColumns =
          'key, kind, run_id, task_queue, state, expires_at, claim_token, claimed_by, data';
        await c.query(
          `INSERT INTO tasks (${taskColumns}) SELECT ${taskColumns} FROM ${from}.tasks`,
        );
      });

      await withWorkerAndClient(old.url, 'upgrade', async (client) => {
        for (let i = 0; i < 3; i++)
          assert.equal(await client.workflow.getHandle(`up-${i}`).result(), i * 10 + 3);
      });
      // Schema 4's changes are there: the version, tasks keyed by key, room for in-page updates.
      const { version, taskKey, runOptions } = await admin(async (c) => {
        const one = (sql: string, params: unknown[] = []) =>
          c.query(sql, params).then((r) => r.rows[0]);
        return {
          version: await one(
            `SELECT value FROM "${old.schema}".keel_meta WHERE key = 'schema_version'`,
          ),
          taskKey: await one(
            `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'tasks_pkey'`,
            [old.schema],
          ),
          runOptions: await one(
            `SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = 'executions'`,
            [old.schema],
          ),
        };
      });
      assert.equal(version.value, String(LATEST_POSTGRES_SCHEMA_VERSION));
      assert.match(taskKey.indexdef, /\(key\)$/);
      assert.deepEqual(runOptions.reloptions, ['fillfactor=30']);
    } finally {
      await source.drop();
      await old.drop();
    }
  });

  test(
    'two stores racing for ready tasks never both claim one (SKIP LOCKED, fenced tokens)',
    { timeout: 60_000 },
    async () => {
      const { url, drop } = freshSchema();
      const stores = [
        PostgresStore.open(url, { maxConnections: 6 }),
        PostgresStore.open(url, { maxConnections: 6 }),
      ];
      try {
        const { activityKeys, workflowKeys } = await createRaceTasks(stores[0]!, 120, 40);
        const engines = stores.map((store) => new Engine(store));
        const granted: Grant[] = [];
        for (let round = 0; round < 500; round++) {
          const grants = (
            await Promise.all(
              engines.map((engine, e) =>
                claimRound(engine, `store-${e}`, 'race-workflows', 'race-activities'),
              ),
            )
          ).flat();
          if (grants.length === 0) break;
          granted.push(...grants);
        }
        await assertGrantedOnce(stores[0]!, granted, [...activityKeys, ...workflowKeys], 2);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await drop();
      }
    },
  );

  test("a process whose clock runs behind another's writes no event before the other's: workflow time never goes back", async () => {
    const { url, drop } = freshSchema();
    const stores = [PostgresStore.open(url), PostgresStore.open(url)];
    const SKEW_MS = 60_000;
    const behind = new Engine(stores[0]!);
    const ahead = new Engine(stores[1]!, { now: () => Date.now() + SKEW_MS });
    try {
      const { runId } = await behind.startWorkflow({
        workflowId: 'skewed',
        workflowType: 'w',
        taskQueue: 'q',
        input: [],
        workflowTaskTimeout: 10_000,
      });
      await ahead.signalWorkflow('skewed', runId, 'early', []);
      await behind.signalWorkflow('skewed', runId, 'late', []);
      const { grants } = await behind.claimWorkflowTasks('q', 1, 'worker', () => 1);
      const history = await stores[0]!.transaction((tx) => tx.readHistory(runId, 1));
      const signaledAt = history.find(
        (e) => e.eventType === 'WorkflowExecutionSignaled',
      )!.eventTime;
      assert.deepEqual(
        history.map((e) => e.eventType),
        [
          'WorkflowExecutionStarted',
          'WorkflowTaskScheduled',
          'WorkflowExecutionSignaled',
          'WorkflowExecutionSignaled',
        ],
      );
      for (let i = 1; i < history.length; i++)
        assert.ok(
          history[i]!.eventTime >= history[i - 1]!.eventTime,
          `event ${history[i]!.eventId} (${history[i]!.eventType}) predates the one before it`,
        );
      // The task's Started time is the workflow's Date.now(): not before what it is told happened.
      assert.ok(grants[0]!.start.startedTime >= signaledAt);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await drop();
    }
  });

  test('a commit in one store reaches the other as hints through LISTEN/NOTIFY', async () => {
    const { url, drop } = freshSchema();
    const a = PostgresStore.open(url);
    const b = PostgresStore.open(url);
    try {
      const heard = await hearingFromConnect(b);
      await a.transaction(async (tx) => {
        await tx.insertExecution(execution({ runId: 'run-n', workflowId: 'wf-n' }));
        await tx.applyTaskChanges([
          { op: 'put', task: activityTask('run-n', 1, { taskQueue: 'notify' }) },
        ]);
      });
      await waitFor(
        () => heard.some((h) => h.type === 'task-ready' && h.taskQueue === 'notify'),
        'the task-ready hint',
      );
    } finally {
      await a.close();
      await b.close();
      await drop();
    }
  });

  test('a Worker and a Client given a connection string hear the hints they act on', async () => {
    const { url, drop } = freshSchema();
    // Each opens a store of its own: the worker hears only of work, the client only of runs.
    try {
      await withWorkerAndClient(url, 'own-stores', async (client) => {
        for (let i = 0; i < 3; i++) {
          const started = performance.now();
          const result = await client.workflow.execute(basicWorkflows.w3, {
            taskQueue: 'own-stores',
            workflowId: `own-${i}`,
            args: [i],
          });
          assert.equal(result, i + 3);
          // Woken by the run-closed hint, not by the client's poll a second later (nor the
          // worker by its own poll: three activities and four workflow tasks in between).
          const took = performance.now() - started;
          assert.ok(took < 900, `took ${took} ms`);
        }
      });
    } finally {
      await drop();
    }
  });

  test('a connection string naming the Unix socket directory connects through it', async () => {
    // The server's own socket directory (Debian: /var/run/postgresql), asked over TCP.
    const directory = await admin(async (c) => {
      const { rows } = await c.query<{ unix_socket_directories: string }>(
        'SHOW unix_socket_directories',
      );
      return rows[0]!.unix_socket_directories.split(',')[0]!.trim();
    });
    assert.ok(directory.startsWith('/'), `the server has no Unix socket: '${directory}'`);
    const { schema, drop } = freshSchema();
    const url = `postgres:///${new URL(POSTGRES_URL).pathname.slice(1)}?host=${encodeURIComponent(directory)}&user=postgres&schema=${schema}`;
    try {
      await withWorkerAndClient(url, 'socket', async (client) => {
        const result = await client.workflow.execute(basicWorkflows.w3, {
          taskQueue: 'socket',
          workflowId: 'over-the-socket',
          args: [4],
        });
        assert.equal(result, 7);
        // The worker's listening connection (where it holds the queue's first-responder seat): a
        // Unix socket's backend has no client address and port -1; over TCP it would have
        // 127.0.0.1 and a port.
        const listeners = await admin(async (c) => {
          const holder = async () => {
            const { rows } = await c.query<{ client_addr: string | null; client_port: number }>(
              seatHolderQuery(schema, 'socket', 'workflow'),
            );
            return rows.map(({ client_addr, client_port }) => ({ client_addr, client_port }));
          };
          let rows: Awaited<ReturnType<typeof holder>> = [];
          await waitFor(
            async () => (rows = await holder()).length > 0,
            'the worker to take its seat',
          );
          return rows;
        });
        assert.deepEqual(listeners, [{ client_addr: null, client_port: -1 }]);
      });
    } finally {
      await drop();
    }
  });

  test('getExecutionAndTask holds the run and the task until its transaction ends', async () => {
    const { url, drop } = freshSchema();
    const store = PostgresStore.open(url, { maxConnections: 4 });
    try {
      const task = workflowTask('run-l', { taskQueue: 'locks' });
      await store.transaction(async (tx) => {
        await tx.insertExecution(execution({ runId: 'run-l', workflowId: 'wf-l' }));
        await tx.applyTaskChanges([{ op: 'put', task }]);
      });
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const holder = store.transaction(async (tx) => {
        assert.deepEqual((await tx.getExecutionAndTask('run-l', task.key)).task, task);
        holding();
        await released;
      });
      await held;
      // Another transaction sees the run as taken and skips the task.
      await store.transaction(async (tx) => {
        assert.equal(await tx.tryGetExecution('run-l'), 'locked');
        assert.deepEqual(await tx.readyTasks('workflow', 'locks', 10), []);
      });
      release();
      await holder;
      await store.transaction(async (tx) => {
        assert.equal(((await tx.tryGetExecution('run-l')) as { runId: string }).runId, 'run-l');
        assert.deepEqual(await tx.readyTasks('workflow', 'locks', 10), [task]);
      });
    } finally {
      await store.close();
      await drop();
    }
  });

  test('a queue is spread over 4 partitions by run, and successive claims start at successive ones', async () => {
    const { url, schema, drop } = freshSchema();
    const store = PostgresStore.open(url, { maxConnections: 4 });
    try {
      const tasks = Array.from({ length: 40 }, (_, i) =>
        activityTask(`run-p${i}`, 1, { taskQueue: 'parts' }),
      );
      await store.transaction((tx) =>
        tx.applyTaskChanges(tasks.map((task) => ({ op: 'put', task }))),
      );
      const partitionOf = new Map(
        (
          await admin((c) =>
            c.query<{ key: string; queue_partition: number }>(
              `SELECT key, queue_partition FROM "${schema}".tasks`,
            ),
          )
        ).rows.map((r) => [r.key, r.queue_partition]),
      );
      assert.deepEqual(new Set(partitionOf.values()), new Set([0, 1, 2, 3]));
      // Four claims of one task each: one from each partition (the claims take turns).
      const firsts = [];
      for (let i = 0; i < 4; i++)
        firsts.push(...(await store.transaction((tx) => tx.readyTasks('activity', 'parts', 1))));
      assert.deepEqual(new Set(firsts.map((t) => partitionOf.get(t.key))), new Set([0, 1, 2, 3]));
      // A claim that runs short in its partition goes on to the next ones.
      const all = await store.transaction((tx) => tx.readyTasks('activity', 'parts', 100));
      assert.equal(all.length, 40);
    } finally {
      await store.close();
      await drop();
    }
  });

  test('an unreachable server is retried for reconnectTimeoutMs, not only maxAttempts times, then named in the error', async () => {
    // Port 1: nothing listens, every connect is refused at once (as while a server restarts).
    const store = PostgresStore.open('postgres://postgres@127.0.0.1:1/test', {
      maxAttempts: 2,
      reconnectTimeoutMs: 1_500,
    });
    const began = Date.now();
    await assert.rejects(store.getExecution('any'), (error: Error) => {
      assert.match(error.message, /127\.0\.0\.1:1/);
      return true;
    });
    const waited = Date.now() - began;
    assert.ok(waited >= 1_400, `gave up after ${waited} ms`);
    assert.ok(waited < 10_000, `gave up after ${waited} ms`);
    await store.close();
  });
});
