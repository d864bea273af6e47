/**
 * The SQLite store: the contract suite, plus what only SQLite has (opening files, pragmas, several
 * processes on one file, group commit, crash safety).
 *
 * SqliteStore is imported from src by path, not from 'keel/worker': TypeScript resolves the
 * package's `types` condition (dist/) before `keel-source`, and a stale dist/ SqliteStore is not
 * assignable to the src Store the contract is written against.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { StoreError } from '../../src/common/errors.ts';
import { Engine } from '../../src/engine/engine.ts';
import { LATEST_SCHEMA_VERSION } from '../../src/store/sqlite/migrations.ts';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.ts';
import type { StoreHint } from '../../src/store/store.ts';
import { tempDbPath } from '../helpers/env.ts';
import { storeContract, type StoreFixture } from './contract.ts';
import {
  activityTask,
  assertGrantedOnce,
  claimRound,
  createRaceTasks,
  events,
  execution,
  waitFor,
  within,
  workflowTask,
  type Grant,
} from './records.ts';

function sqliteFixture(options: SqliteStoreOptions = {}) {
  return async (): Promise<StoreFixture> => {
    const path = tempDbPath();
    const opened: SqliteStore[] = [];
    const open = () => {
      const store = SqliteStore.open(path, options);
      opened.push(store);
      return store;
    };
    return {
      store: open(),
      reopen: async () => open(),
      async cleanup() {
        for (const store of opened) await store.close();
        rmSync(dirname(path), { recursive: true, force: true });
      },
    };
  };
}

storeContract('sqlite', sqliteFixture());

/** Opens stores on `path` and closes them all at the end of `fn`. */
async function withStores<T>(
  fn: (open: (path: string, options?: SqliteStoreOptions) => SqliteStore) => Promise<T>,
): Promise<T> {
  const opened: SqliteStore[] = [];
  try {
    return await fn((path, options) => {
      const store = SqliteStore.open(path, options);
      opened.push(store);
      return store;
    });
  } finally {
    for (const store of opened) await store.close();
  }
}

/** Asserts that `open()` throws a StoreError whose message passes `check`; returns the message. */
function assertRefused(open: () => unknown, check: (message: string) => void): string {
  let message: string | undefined;
  assert.throws(open, (error) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    message = error.message;
    check(message);
    return true;
  });
  return message!;
}

/** Paths of the files under `dir` that this process holds open (Linux only). */
function openFilesUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.startsWith(dir));
}

/** The store's write connection: read (never wrapped) only to check per-connection pragmas. */
const writerOf = (store: SqliteStore) => (store as unknown as { writer: Database.Database }).writer;

/**
 * Physical commits in a WAL file: frames whose "database size after commit" field is set, counted
 * from the start while the frame salts match the header (frames of an older WAL generation do not).
 */
function walCommits(walPath: string): number {
  const wal = readFileSync(walPath);
  if (wal.length < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return commits;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Starts `test/store/children/<script>` in a new Node process, running TypeScript sources. */
function spawnChild(script: string, args: string[]) {
  const child = spawn(
    process.execPath,
    [
      '--conditions=keel-source',
      '--import',
      'tsx',
      fileURLToPath(new URL(`./children/${script}`, import.meta.url)),
      ...args,
    ],
    { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const outputEnded = once(lines, 'close');
  return { child, lines, exited, outputEnded, stderr: () => stderr };
}

/**
 * Ready tasks for a claim race, written straight to the store: activity tasks on `race-activities`,
 * and runs waiting for their first workflow task on `race-workflows`.
 */
describe('SqliteStore: opening files', () => {
  test('refuses a file that is not SQLite, naming it, and leaves it untouched', () => {
    const path = tempDbPath('notes.txt');
    const content = 'These are my notes, not a database.\n'.repeat(200);
    writeFileSync(path, content);
    assertRefused(
      () => SqliteStore.open(path),
      (message) => {
        assert.ok(message.includes(path), message);
        assert.match(message, /not a SQLite file/);
      },
    );
    assert.equal(readFileSync(path, 'utf8'), content);
    assert.deepEqual(readdirSync(dirname(path)), ['notes.txt']);
  });

  test('refuses a SQLite database without the Keel schema, naming the file and its tables', () => {
    const path = tempDbPath('crm.db');
    const foreign = new Database(path);
    foreign.exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
      CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);
      INSERT INTO customers (name) VALUES ('Ada');`);
    foreign.close();
    assertRefused(
      () => SqliteStore.open(path),
      (message) => {
        assert.ok(message.includes(path), message);
        assert.match(message, /customers/);
        assert.match(message, /invoices/);
      },
    );
    const check = new Database(path, { readonly: true });
    try {
      assert.deepEqual(check.prepare('SELECT name FROM customers').pluck().all(), ['Ada']);
      const tables = check
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
        .pluck()
        .all();
      assert.deepEqual(tables, ['customers', 'invoices']);
    } finally {
      check.close();
    }
  });

  test('refusing a foreign SQLite database does not change its journal mode', {}, () => {
    const path = tempDbPath('crm.db');
    const foreign = new Database(path);
    foreign.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY)');
    assert.equal(foreign.pragma('journal_mode', { simple: true }), 'delete');
    foreign.close();
    assert.throws(() => SqliteStore.open(path), StoreError);
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.pragma('journal_mode', { simple: true }), 'delete');
    } finally {
      check.close();
    }
  });

  test(
    'a refused open leaves no connection to the file open',
    {
      skip: process.platform !== 'linux' && 'reads /proc/self/fd',
    },
    () => {
      const path = tempDbPath('crm.db');
      const foreign = new Database(path);
      foreign.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY)');
      foreign.close();
      assert.deepEqual(openFilesUnder(dirname(path)), []);
      assert.throws(() => SqliteStore.open(path), StoreError);
      assert.deepEqual(openFilesUnder(dirname(path)), []);
    },
  );

  test('refuses a Keel database with a newer schema, naming both versions', async () => {
    const path = tempDbPath();
    await SqliteStore.open(path).close();
    const db = new Database(path);
    db.prepare(`UPDATE keel_meta SET value = '99' WHERE key = 'schema_version'`).run();
    db.close();
    assertRefused(
      () => SqliteStore.open(path),
      (message) => {
        assert.ok(message.includes(path), message);
        const numbers: string[] = message.replace(path, '').match(/\d+/g) ?? [];
        assert.ok(numbers.includes('99'), `names the database's version: ${message}`);
        assert.ok(
          numbers.includes(String(LATEST_SCHEMA_VERSION)),
          `names the version this code knows (${LATEST_SCHEMA_VERSION}): ${message}`,
        );
      },
    );
    const check = new Database(path, { readonly: true });
    try {
      const version = check
        .prepare(`SELECT value FROM keel_meta WHERE key = 'schema_version'`)
        .pluck()
        .get();
      assert.equal(version, '99', 'the database is left as it was');
    } finally {
      check.close();
    }
  });

  test('records the schema version in a new database, and accepts an empty file', async () => {
    const path = tempDbPath();
    writeFileSync(path, '');
    await withStores(async (open) => {
      const store = open(path);
      await store.transaction((tx) => tx.insertExecution(execution()));
    });
    const check = new Database(path, { readonly: true });
    try {
      const version = check
        .prepare(`SELECT value FROM keel_meta WHERE key = 'schema_version'`)
        .pluck()
        .get();
      assert.equal(version, String(LATEST_SCHEMA_VERSION));
    } finally {
      check.close();
    }
  });

  test('refuses a directory and :memory:', () => {
    const dir = dirname(tempDbPath());
    const sub = `${dir}/keel.db`;
    mkdirSync(sub);
    assertRefused(
      () => SqliteStore.open(sub),
      (message) => assert.ok(message.includes(sub), message),
    );
    assertRefused(
      () => SqliteStore.open(':memory:'),
      (message) => assert.match(message, /file path/),
    );
  });

  test('uses WAL, with synchronous FULL by default and NORMAL on request', async () => {
    await withStores(async (open) => {
      const path = tempDbPath();
      const full = open(path);
      const normal = open(tempDbPath(), { synchronous: 'normal' });
      const other = new Database(path, { readonly: true });
      try {
        assert.equal(other.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        other.close();
      }
      // synchronous is per connection: 2 = FULL, 1 = NORMAL.
      assert.equal(writerOf(full).pragma('synchronous', { simple: true }), 2);
      assert.equal(writerOf(normal).pragma('synchronous', { simple: true }), 1);
      assert.equal(writerOf(normal).pragma('journal_mode', { simple: true }), 'wal');
    });
  });
});

describe('SqliteStore: transactions', () => {
  test('group commit: 200 concurrent transactions take a handful of physical commits', async () => {
    await withStores(async (open) => {
      const path = tempDbPath();
      const store = open(path);
      await store.transaction((tx) => tx.insertExecution(execution({ runId: 'r1' })));
      // A reader holding a snapshot keeps SQLite from restarting the WAL, so every commit stays countable.
      const pin = new Database(path, { readonly: true });
      try {
        pin.exec('BEGIN');
        pin.prepare('SELECT count(*) FROM tasks').get();
        const before = walCommits(`${path}-wal`);
        assert.ok(before > 0, 'the WAL holds the earlier commits');

        // The measure itself: sequential transactions are one commit each.
        for (let i = 0; i < 10; i++) {
          await store.transaction((tx) => tx.appendEvents('r1', events(i + 1, 1)));
        }
        const sequential = walCommits(`${path}-wal`) - before;
        assert.equal(sequential, 10);

        const started = walCommits(`${path}-wal`);
        const values = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            store.transaction(async (tx) => {
              await tx.applyTaskChanges([{ op: 'put', task: activityTask('r1', i + 100) }]);
              return i;
            }),
          ),
        );
        const commits = walCommits(`${path}-wal`) - started;
        assert.deepEqual(
          values,
          Array.from({ length: 200 }, (_, i) => i),
        );
        assert.ok(commits >= 1 && commits <= 4, `200 transactions took ${commits} commits`);
        assert.equal((await store.activityTasks('r1')).length, 200);
      } finally {
        pin.exec('COMMIT');
        pin.close();
      }
    });
  });

  test('reads outside a transaction do not see a batch that is still open', async () => {
    await withStores(async (open) => {
      const store = open(tempDbPath());
      const run = execution({ runId: 'r1' });
      const seen: unknown[] = [];
      await Promise.all([
        store.transaction(async (tx) => {
          await tx.insertExecution(run);
          await tx.appendEvents('r1', events(1, 2));
          seen.push(await store.getExecution('r1'), await store.readHistory('r1'));
        }),
        // Batched with the first: sees its writes inside the batch, but outside reads do not.
        store.transaction(async (tx) => {
          seen.push(await tx.getExecution('r1'));
          seen.push(await store.findExecution('wf-1'), await store.listExecutions());
        }),
      ]);
      assert.deepEqual(seen, [undefined, [], run, undefined, []]);
      assert.deepEqual(await store.getExecution('r1'), run);
    });
  });

  test('a hint listener that throws does not wedge the store', {}, async () => {
    const store = SqliteStore.open(tempDbPath());
    let thrown = false;
    store.subscribe(() => {
      if (thrown) return;
      thrown = true;
      throw new Error('a buggy listener');
    });
    let queued: Promise<unknown> | undefined;
    await store.transaction(async (tx) => {
      queued = store.transaction((next) => next.getTask('r1/workflow'));
      await tx.applyTaskChanges([{ op: 'put', task: workflowTask('r1') }]);
    });
    assert.ok(thrown);
    assert.deepEqual(
      await within(queued!, 'a transaction queued while the hint was sent', 2_000),
      workflowTask('r1'),
    );
    assert.equal(
      await within(
        store.transaction(async () => 'later'),
        'a later transaction',
        2_000,
      ),
      'later',
    );
    // Closed only if not wedged: close() of a wedged store never returns and keeps the process alive.
    await store.close();
  });
});

describe('SqliteStore: several stores on one file', () => {
  test('the second store hears of the first one’s commits as external-change', async () => {
    await withStores(async (open) => {
      const path = tempDbPath();
      const first = open(path);
      const second = open(path, { externalChangePollMs: 5 });
      const heard: StoreHint[] = [];
      second.subscribe((hint) => heard.push(hint));
      await first.transaction((tx) =>
        tx.applyTaskChanges([{ op: 'put', task: workflowTask('r1') }]),
      );
      await waitFor(
        () => heard.some((h) => h.type === 'external-change'),
        'an external-change hint on the second store',
      );
      assert.deepEqual(heard, [{ type: 'external-change' }]);
      assert.deepEqual(
        await second.transaction((tx) => tx.getTask('r1/workflow')),
        workflowTask('r1'),
      );

      // And again for a later commit: the hint is not a one-off.
      heard.length = 0;
      await first.transaction((tx) => tx.insertExecution(execution({ runId: 'r1' })));
      await waitFor(() => heard.length > 0, 'a second external-change hint');
      assert.deepEqual(await second.getExecution('r1'), execution({ runId: 'r1' }));
    });
  });

  test(
    'a commit of its own does not hide another store’s commit from the external-change check',
    {},
    async () => {
      await withStores(async (open) => {
        const path = tempDbPath();
        const first = open(path);
        const second = open(path, { externalChangePollMs: 100 });
        const heard: StoreHint[] = [];
        second.subscribe((hint) => heard.push(hint));
        await first.transaction((tx) =>
          tx.applyTaskChanges([{ op: 'put', task: workflowTask('r1', { taskQueue: 'q1' }) }]),
        );
        // The second store commits before its next poll: the first one's task-ready must not be lost.
        await second.transaction((tx) => tx.appendEvents('r2', events(1, 1)));
        await waitFor(
          () => heard.some((h) => h.type === 'external-change'),
          'an external-change hint on the second store',
          1_000,
        );
      });
    },
  );

  test('two stores racing for ready tasks never both claim one', { timeout: 60_000 }, async () => {
    await withStores(async (open) => {
      const path = tempDbPath();
      const stores = [open(path), open(path)];
      const { activityKeys, workflowKeys } = await createRaceTasks(stores[0]!, 200, 60);
      const tasks = activityKeys.length + workflowKeys.length;
      const engines = stores.map((store) => new Engine(store));
      // Rounds in which both stores claim at once, until both find nothing: each store's batch
      // takes the write lock right after the other's commit and must see its claims.
      const granted: Grant[] = [];
      for (let round = 0; ; round++) {
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        const grants = (
          await Promise.all(
            order.map((e) =>
              claimRound(engines[e]!, `store-${e}`, 'race-workflows', 'race-activities'),
            ),
          )
        ).flat();
        if (grants.length === 0) break;
        granted.push(...grants);
        assert.ok(granted.length <= tasks, `${granted.length} grants for ${tasks} tasks`);
      }
      await assertGrantedOnce(stores[0]!, granted, [...activityKeys, ...workflowKeys], 2);
    });
  });

  test(
    'two processes racing for ready tasks never both claim one',
    { timeout: 90_000 },
    async () => {
      const path = tempDbPath();
      const { activityKeys, workflowKeys } = await withStores((open) =>
        createRaceTasks(open(path), 300, 100),
      );
      const tasks = activityKeys.length + workflowKeys.length;
      const racers = ['process-a', 'process-b'].map((identity) => {
        const child = spawnChild('claim-racer.ts', [
          path,
          identity,
          'race-workflows',
          'race-activities',
        ]);
        return { identity, ...child, output: child.lines[Symbol.asyncIterator]() };
      });
      const nextLine = async (racer: (typeof racers)[number]) => {
        const line = await racer.output.next();
        if (line.done) {
          const [code] = await racer.exited;
          throw new Error(`${racer.identity} exited (${code}): ${racer.stderr()}`);
        }
        return line.value;
      };
      const granted: Grant[] = [];
      try {
        await within(
          Promise.all(racers.map(async (r) => assert.equal(await nextLine(r), 'ready'))),
          'both processes starting',
          30_000,
        );
        // Rounds in which both processes claim at once, until both find nothing.
        for (;;) {
          for (const racer of racers) racer.child.stdin.write('claim\n');
          const grants = await within(
            Promise.all(
              racers.map(async (racer) => {
                const lines: Grant[] = [];
                for (
                  let line = await nextLine(racer);
                  line !== 'done';
                  line = await nextLine(racer)
                )
                  lines.push(JSON.parse(line) as Grant);
                return lines;
              }),
            ),
            'a claim round',
            30_000,
          );
          if (grants.flat().length === 0) break;
          granted.push(...grants.flat());
          assert.ok(granted.length <= tasks, `${granted.length} grants for ${tasks} tasks`);
        }
        for (const racer of racers) racer.child.stdin.end();
        const exits = await within(
          Promise.all(racers.map((r) => r.exited)),
          'both processes exiting',
          30_000,
        );
        exits.forEach(([code], i) => assert.equal(code, 0, racers[i]!.stderr()));
      } finally {
        for (const racer of racers) if (racer.child.exitCode === null) racer.child.kill('SIGKILL');
      }
      await withStores((open) =>
        assertGrantedOnce(open(path), granted, [...activityKeys, ...workflowKeys], 2),
      );
    },
  );
});

describe('SqliteStore: crash safety', () => {
  test(
    'a process killed mid-batch loses no acknowledged transaction',
    { timeout: 60_000 },
    async () => {
      const path = tempDbPath();
      const writer = spawnChild('crash-writer.ts', [path]);
      const acknowledged: number[] = [];
      try {
        await within(
          new Promise<void>((resolve, reject) => {
            writer.lines.on('line', (line) => {
              acknowledged.push(Number(line));
              if (acknowledged.length === 500) {
                writer.child.kill('SIGKILL');
                resolve();
              }
            });
            void writer.exited.then(([code]) =>
              reject(new Error(`the writer exited early (${code}): ${writer.stderr()}`)),
            );
          }),
          '500 acknowledged transactions',
          30_000,
        );
        const [, signal] = await writer.exited;
        assert.equal(signal, 'SIGKILL');
        await writer.outputEnded; // lines written before the kill count as acknowledged too
      } finally {
        if (writer.child.exitCode === null) writer.child.kill('SIGKILL');
      }
      assert.ok(acknowledged.length >= 500);

      await withStores(async (open) => {
        const store = open(path); // recovers the WAL left by the killed process
        for (const n of acknowledged) {
          assert.deepEqual(await store.readHistory(`crash-${n}`), events(1, 3), `run crash-${n}`);
          assert.equal((await store.activityTasks(`crash-${n}`)).length, 1, `task of crash-${n}`);
        }
        // Transactions in flight at the kill are all-or-nothing.
        const db = new Database(path, { readonly: true });
        try {
          const partial = db
            .prepare(
              `SELECT r.run_id FROM (SELECT run_id FROM history_events UNION SELECT run_id FROM tasks) r
               WHERE (SELECT count(*) FROM history_events e WHERE e.run_id = r.run_id) <> 3
                  OR (SELECT count(*) FROM tasks t WHERE t.run_id = r.run_id) <> 1`,
            )
            .pluck()
            .all();
          assert.deepEqual(partial, []);
        } finally {
          db.close();
        }
      });
    },
  );
});
