/**
 * W3 on PostgreSQL with 1, 2 and 4 worker processes: the benchmark process is the client (starting
 * workflows, up to `concurrency` in flight, and waiting for their results through LISTEN/NOTIFY);
 * the workers run in their own processes on one schema. The baselines, measured in the same run, are
 * raw single-row commits per second with 8 connections (what pgbench measures by default), and
 * PostgreSQL alone running W3's statements under pgbench (`postgresAloneOnW3`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Client } from 'keel/client';
import { PostgresStore } from 'keel/worker';
import { countCpu, type CpuUse } from './cpu.ts';
import { measureW3, WARMUP_PER_PROCESS, type W3Figures } from './w3.ts';

export const POSTGRES_BENCH_URL =
  process.env.KEEL_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Single-row INSERT transactions per second over `clients` connections for `seconds`. */
export async function rawPostgresCommitsPerSecond(clients = 8, seconds = 2): Promise<number> {
  const table = `keel_bench_raw_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_BENCH_URL });
  await admin.connect();
  await admin.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, v text NOT NULL)`);
  let commits = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client({ connectionString: POSTGRES_BENCH_URL });
      await c.connect();
      while (performance.now() < end) {
        await c.query({
          name: 'raw',
          text: `INSERT INTO ${table} (v) VALUES ($1)`,
          values: ['x'.repeat(100)],
        });
        commits++;
      }
      await c.end();
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  await admin.query(`DROP TABLE ${table}`);
  await admin.end();
  return commits / elapsed;
}

/** pgbench of the PostgreSQL installed here, if there is one. */
function findPgbench(): string | undefined {
  const onPath = spawnSync('pgbench', ['--version'], { encoding: 'utf8' });
  if (onPath.status === 0) return 'pgbench';
  const dir = '/usr/lib/postgresql';
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir)
    .map((version) => join(dir, version, 'bin', 'pgbench'))
    .find((path) => existsSync(path));
}

/**
 * What PostgreSQL alone does with W3's statements (bench/w3-statements.sql, one script run per
 * workflow) driven by pgbench, a C client that costs next to nothing: workflows/s over 8
 * connections, and ms per workflow over one. The bound Keel's figures are measured against;
 * undefined if pgbench is not installed.
 */
export async function postgresAloneOnW3(
  seconds = 5,
): Promise<{ workflowsPerSecond8Clients: number; msPerWorkflow1Client: number } | undefined> {
  const pgbench = findPgbench();
  if (!pgbench) return undefined;
  const schema = `keel_bench_bound_${process.pid}`;
  const url = new URL(POSTGRES_BENCH_URL);
  url.searchParams.set('schema', schema);
  const store = PostgresStore.open(url.toString());
  await store.nextExpiry(); // Keel's own schema, migrated
  await store.close();
  const script = fileURLToPath(new URL('./w3-statements.sql', import.meta.url));
  const run = (clients: number) => {
    const result = spawnSync(
      pgbench,
      [
        '-n',
        '-M',
        'prepared',
        '-f',
        script,
        '-c',
        String(clients),
        '-j',
        String(Math.min(clients, 2)),
        '-T',
        String(seconds),
        POSTGRES_BENCH_URL,
      ],
      { encoding: 'utf8', env: { ...process.env, PGOPTIONS: `-c search_path=${schema}` } },
    );
    const tps = /tps = ([\d.]+)/.exec(result.stdout)?.[1];
    const latency = /latency average = ([\d.]+) ms/.exec(result.stdout)?.[1];
    if (result.status !== 0 || !tps || !latency)
      throw new Error(`pgbench failed: ${result.stderr || result.stdout}`);
    return { tps: Number(tps), latency: Number(latency) };
  };
  try {
    return {
      workflowsPerSecond8Clients: Math.round(run(8).tps),
      msPerWorkflow1Client: Math.round(run(1).latency * 10) / 10,
    };
  } finally {
    const admin = new pg.Client({ connectionString: POSTGRES_BENCH_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

/** Node flags for the worker processes, to profile them: `--cpu-prof --cpu-prof-dir=prof`, say. */
const WORKER_FLAGS = process.env.KEEL_BENCH_WORKER_FLAGS?.split(/\s+/).filter(Boolean) ?? [];

function startWorker(connection: string, taskQueue: string): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./pg-worker.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    [...WORKER_FLAGS, '--conditions=keel-source', '--import', 'tsx', script, connection, taskQueue],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    child.stdout
      .setEncoding('utf8')
      .on('data', (chunk: string) => chunk.includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`bench worker exited with ${code}`)));
  });
}

export interface PostgresConfigFigures extends W3Figures {
  workerProcesses: number;
  /**
   * Transaction ids per workflow during the throughput phase (see `transactionIdsSoFar`): group
   * commit makes it less than W3's 5 transactions.
   */
  transactionIdsPerWorkflow?: number;
  /** CPU per workflow by process group during the throughput phase (Linux). */
  cpu?: CpuUse;
}

/**
 * Transaction ids the cluster has handed out so far, counted at once. A transaction takes one when
 * it writes or locks a row (a read-only one commits without flushing anything), and each savepoint
 * that writes takes another; rolled-back transactions and the rest of the cluster's work count
 * too. So it is an upper bound on the commits that wrote. pg_stat_database's commit counts, used
 * before, include read-only transactions and reach the statistics when each backend reports them
 * (up to seconds late): 4 workers read anywhere from 0.35 to 1.13 commits per workflow across runs,
 * where this count reads 0.28 to 0.3. The admin connection's own query takes one id too.
 */
async function transactionIdsSoFar(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query<{ id: string }>('SELECT pg_current_xact_id()::text AS id');
  return Number(rows[0]!.id);
}

export async function benchPostgres(options: {
  processes: number[];
  total: number;
  concurrency: number;
  latencyRuns: number;
  log: (line: string) => void;
}): Promise<PostgresConfigFigures[]> {
  const figures: PostgresConfigFigures[] = [];
  for (const count of options.processes) {
    const schema = `keel_bench_${process.pid}_${count}`;
    const url = new URL(POSTGRES_BENCH_URL);
    url.searchParams.set('schema', schema);
    const connection = url.toString();
    const taskQueue = 'bench';
    // This process is the client: it hears of runs (their results), not of tasks.
    const store = PostgresStore.open(connection, { maxConnections: 8, hints: 'runs' });
    const client = new Client({ store });
    await store.nextExpiry(); // migrate before the workers race to
    options.log(`PostgreSQL, ${count} worker process${count > 1 ? 'es' : ''} ...`);
    const workers = await Promise.all(
      Array.from({ length: count }, () => startWorker(connection, taskQueue)),
    );
    const admin = new pg.Client({ connectionString: POSTGRES_BENCH_URL });
    await admin.connect();
    try {
      let cpu: ReturnType<typeof countCpu> | undefined;
      let transactionIds = 0;
      let cpuUse: CpuUse | undefined;
      const measured = await measureW3(client, taskQueue, {
        total: options.total,
        concurrency: options.concurrency,
        latencyRuns: options.latencyRuns,
        // As many per worker process as the SQLite run gives its one worker: each process's JIT
        // optimises its own hot paths.
        warmup: WARMUP_PER_PROCESS * count,
        aroundThroughput: {
          before: async () => {
            transactionIds = await transactionIdsSoFar(admin);
            cpu = countCpu(workers.map((w) => w.pid!));
          },
          after: async () => {
            cpuUse = cpu!.stop(options.total);
            transactionIds = (await transactionIdsSoFar(admin)) - transactionIds - 1;
          },
        },
      });
      figures.push({
        workerProcesses: count,
        ...measured,
        transactionIdsPerWorkflow: Math.round((transactionIds / options.total) * 100) / 100,
        ...(cpuUse ? { cpu: cpuUse } : {}),
      });
    } finally {
      for (const worker of workers) worker.kill('SIGTERM');
      await Promise.all(workers.filter((w) => w.exitCode === null).map((w) => once(w, 'exit')));
      await client.close();
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  }
  return figures;
}
