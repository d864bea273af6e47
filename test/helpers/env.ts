/**
 * Test scaffolding: a fresh SQLite file per test, a worker and a client on it, torn down afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'keel/client';
import { PostgresStore, SqliteStore, Worker, type WorkerOptions, type Store } from 'keel/worker';
import type { Clock } from '../../src/engine/clock.ts';
import { freshSchema } from './postgres.ts';

/** A path for a new database file in a new temp directory, removed at process exit. */
export function tempDbPath(name = 'keel.db'): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-test-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, name);
}

let queueCounter = 0;

/** A task queue name unique within this process. */
export function uniqueQueue(prefix = 'test'): string {
  return `${prefix}-${process.pid}-${++queueCounter}`;
}

/** Logs go nowhere unless KEEL_TEST_LOGS is set; tests assert on captured lines. */
export function captureLogger() {
  const lines: { level: string; message: string; attributes?: Record<string, unknown> }[] = [];
  return {
    lines,
    log(level: string, message: string, attributes?: Record<string, unknown>) {
      lines.push({ level, message, ...(attributes ? { attributes } : {}) });
      if (process.env.KEEL_TEST_LOGS) console.error(level, message, attributes ?? '');
    },
  };
}

export interface TestEnv {
  store: Store;
  client: Client;
  taskQueue: string;
  /** Connection string of the env's store (a SQLite file path, or a PostgreSQL URL). */
  dbPath: string;
  logs: ReturnType<typeof captureLogger>;
  /** Starts a worker on the env's store and queue; stopped at teardown. */
  startWorker(options?: Partial<WorkerOptions>): Promise<Worker>;
  /** Stops every worker started so far and waits for them. */
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Which store the conformance suite runs on: `KEEL_TEST_STORE=postgres` runs every test written
 * with these helpers against PostgreSQL (a fresh schema each), the default against SQLite.
 */
export const TEST_STORE = process.env.KEEL_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/** A fresh store of the kind under test and the connection string that opens it again. */
export function openTestStore(options: { clock?: Clock } = {}): {
  store: Store;
  connection: string;
  dispose: () => Promise<void>;
} {
  if (TEST_STORE === 'postgres') {
    const { url, drop } = freshSchema();
    return {
      store: PostgresStore.open(url, { maxConnections: 6, ...options }),
      connection: url,
      dispose: drop,
    };
  }
  const path = tempDbPath();
  return {
    store: SqliteStore.open(path, { synchronous: 'normal', ...options }),
    connection: path,
    dispose: async () => undefined,
  };
}

export async function createTestEnv(options: { dbPath?: string } = {}): Promise<TestEnv> {
  const opened = options.dbPath
    ? {
        store: SqliteStore.open(options.dbPath),
        connection: options.dbPath,
        dispose: async () => undefined,
      }
    : openTestStore();
  const { store } = opened;
  const dbPath = opened.connection;
  const client = new Client({ store });
  const taskQueue = uniqueQueue();
  const logs = captureLogger();
  const running: { worker: Worker; done: Promise<void> }[] = [];
  const env: TestEnv = {
    store,
    client,
    taskQueue,
    dbPath,
    logs,
    async startWorker(workerOptions = {}) {
      const worker = await Worker.create({
        store,
        taskQueue,
        handleSignals: false,
        logger: logs,
        shutdownGraceTime: 100,
        ...workerOptions,
      });
      const done = worker.run();
      running.push({ worker, done });
      return worker;
    },
    async stopWorkers() {
      for (const { worker } of running) worker.shutdown();
      await Promise.all(running.splice(0).map((r) => r.done));
    },
    async close() {
      await env.stopWorkers();
      await client.close();
      await store.close();
      await opened.dispose();
    },
  };
  return env;
}

/** Runs `fn` with a fresh env, always closing it. */
export async function withTestEnv<T>(fn: (env: TestEnv) => Promise<T>): Promise<T> {
  const env = await createTestEnv();
  try {
    return await fn(env);
  } finally {
    await env.close();
  }
}
