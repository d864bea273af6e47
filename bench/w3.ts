/**
 * W3 (a workflow calling three activities in sequence) in one process on a SQLite file: throughput
 * with up to `concurrency` workflows in flight, latency one at a time, and the raw single-row commit
 * rate of the same disk and settings as a baseline.
 */
import { join } from 'node:path';
import { Client } from 'keel/client';
import { SqliteStore, Worker } from 'keel/worker';
import { rawCommitsPerSecond } from './baseline.ts';
import { summarize } from './stats.ts';
import * as activities from './w3-activities.ts';
import * as workflows from './w3-workflows.ts';

export interface W3Options {
  dir: string;
  total: number;
  concurrency: number;
  latencyRuns: number;
  synchronous: 'full' | 'normal';
  log: (line: string) => void;
}

export async function benchW3({
  dir,
  total,
  concurrency,
  latencyRuns,
  synchronous,
  log,
}: W3Options) {
  log(`Measuring raw SQLite commits (synchronous=${synchronous.toUpperCase()}) in ${dir} ...`);
  const rawCommits = rawCommitsPerSecond(join(dir, 'baseline.db'), synchronous);

  const store = SqliteStore.open(join(dir, 'keel.db'), { synchronous });
  const client = new Client({ store });
  const taskQueue = 'bench';
  const worker = await Worker.create({
    store,
    taskQueue,
    workflows,
    activities,
    maxConcurrentWorkflowTaskExecutions: Math.max(concurrency, 40),
    maxConcurrentActivityTaskExecutions: Math.max(concurrency, 100),
    handleSignals: false,
    logger: { log: (level, message) => level === 'error' && console.error(message) },
  });
  const running = worker.run();

  const figures = await measureW3(client, taskQueue, {
    total,
    concurrency,
    latencyRuns,
    warmup: WARMUP_PER_PROCESS,
    log,
  });
  worker.shutdown();
  await running;
  await client.close();
  await store.close();

  return {
    workload: 'W3',
    store: 'sqlite',
    durability: `WAL, synchronous=${synchronous.toUpperCase()}`,
    workflows: total,
    concurrency,
    ...figures,
    rawSqliteCommitsPerSecond: round(rawCommits),
    workflowsPerRawCommit: round(figures.throughputWorkflowsPerSecond / rawCommits, 3),
  };
}

/**
 * Workflows each worker process runs before anything is measured. V8 keeps optimising a process's
 * hot paths for thousands of workflows: with 500 per process, four PostgreSQL workers spent 1.4 ms
 * of CPU per workflow in the measured phase. With 2,000, V8's optimising compiler still took 7-13%
 * of their CPU in the measured phase, and over four alternating pairs they spent 1.16-1.5 ms per
 * workflow where 5,000 gave 1.02-1.13 (10,000: 1.07-1.08, in two runs), for 14% more workflows/s.
 */
export const WARMUP_PER_PROCESS = 5000;

export interface W3Figures {
  throughputWorkflowsPerSecond: number;
  underLoadLatencyMs: { p50: number; p99: number };
  serialLatencyMs: { p50: number; p99: number; runs: number };
}

/**
 * Runs W3 through `client` on `taskQueue` (workers already polling): `warmup` workflows unmeasured (as many in flight),
 * then `total` with up to `concurrency` in flight (throughput and latency under load), then
 * `latencyRuns` one at a time.
 */
export async function measureW3(
  client: Client,
  taskQueue: string,
  options: {
    total: number;
    concurrency: number;
    latencyRuns: number;
    warmup: number;
    log?: (line: string) => void;
    /** Called right before and right after the throughput phase (to count what it cost). */
    aroundThroughput?: { before(): Promise<void> | void; after(): Promise<void> | void };
  },
): Promise<W3Figures> {
  const { total, concurrency, latencyRuns, log } = options;
  const runOne = async (id: string, input: number): Promise<number> => {
    const started = performance.now();
    const result = await client.workflow.execute(workflows.w3, {
      taskQueue,
      workflowId: id,
      args: [input],
    });
    if (result !== input + 3)
      throw new Error(`workflow ${id} returned ${result}, expected ${input + 3}`);
    return performance.now() - started;
  };

  /** `count` workflows, up to `concurrency` in flight; their latencies. */
  const runMany = async (prefix: string, count: number): Promise<number[]> => {
    const latencies: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, count) }, async () => {
        while (next < count) {
          const i = next++;
          latencies.push(await runOne(`${prefix}-${i}`, i));
        }
      }),
    );
    return latencies;
  };

  // Warm-up, not measured: the same load, until the JIT compiled the hot paths of every process.
  await runMany('warmup', options.warmup);

  log?.(`Throughput: ${total} workflows, up to ${concurrency} in flight ...`);
  await options.aroundThroughput?.before();
  const throughputStart = performance.now();
  const loadLatencies = await runMany('load', total);
  const throughputSeconds = (performance.now() - throughputStart) / 1000;
  await options.aroundThroughput?.after();

  log?.(`Latency: ${latencyRuns} workflows one at a time ...`);
  const serialLatencies: number[] = [];
  for (let i = 0; i < latencyRuns; i++) serialLatencies.push(await runOne(`serial-${i}`, i));

  const load = summarize(loadLatencies);
  const serial = summarize(serialLatencies);
  return {
    throughputWorkflowsPerSecond: round(total / throughputSeconds),
    underLoadLatencyMs: { p50: round(load.p50), p99: round(load.p99) },
    serialLatencyMs: { p50: round(serial.p50), p99: round(serial.p99), runs: latencyRuns },
  };
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
