/**
 * `npm run bench`: workload W3 (a workflow calling three activities in sequence) in one process on a
 * SQLite file: throughput with up to `--concurrency` workflows in flight, and end-to-end latency one
 * at a time, next to the raw single-row commit rate of the same disk and settings.
 *
 * Options: --json (one JSON object on stdout), --workflows N (2000), --concurrency N (100),
 * --latency-runs N (300), --synchronous full|normal (full).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'keel/client';
import { SqliteStore, Worker } from 'keel/worker';
import { rawCommitsPerSecond } from './baseline.ts';
import { summarize } from './stats.ts';
import * as activities from './w3-activities.ts';
import * as workflows from './w3-workflows.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    workflows: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '100' },
    'latency-runs': { type: 'string', default: '300' },
    synchronous: { type: 'string', default: 'full' },
    store: { type: 'string', default: 'sqlite' },
  },
});
const positive = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench: --${name} must be a whole number of at least 1, not '${value}'`);
    process.exit(2);
  }
  return n;
};
const total = positive('workflows', values.workflows);
const concurrency = positive('concurrency', values.concurrency);
const latencyRuns = positive('latency-runs', values['latency-runs']);
const synchronous = values.synchronous as 'full' | 'normal';
if (synchronous !== 'full' && synchronous !== 'normal') {
  console.error(
    `bench: --synchronous must be 'full' or 'normal', not '${String(values.synchronous)}'`,
  );
  process.exit(2);
}
if (values.store !== 'sqlite') {
  console.error(`bench: --store ${values.store} is not available yet; only sqlite.`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'keel-bench-'));
const log = (line: string) => values.json || console.error(line);
try {
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

  // Warm-up: JIT and caches, not measured.
  for (let i = 0; i < 50; i++) await runOne(`warmup-${i}`, i);

  log(`Throughput: ${total} workflows, up to ${concurrency} in flight ...`);
  const loadLatencies: number[] = [];
  let next = 0;
  const throughputStart = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const i = next++;
        loadLatencies.push(await runOne(`load-${i}`, i));
      }
    }),
  );
  const throughputSeconds = (performance.now() - throughputStart) / 1000;

  log(`Latency: ${latencyRuns} workflows one at a time ...`);
  const serialLatencies: number[] = [];
  for (let i = 0; i < latencyRuns; i++) serialLatencies.push(await runOne(`serial-${i}`, i));

  worker.shutdown();
  await running;
  await client.close();
  await store.close();

  const throughput = total / throughputSeconds;
  const serial = summarize(serialLatencies);
  const load = summarize(loadLatencies);
  const report = {
    workload: 'W3',
    store: 'sqlite',
    durability: `WAL, synchronous=${synchronous.toUpperCase()}`,
    node: process.version,
    workflows: total,
    concurrency,
    throughputWorkflowsPerSecond: round(throughput),
    underLoadLatencyMs: { p50: round(load.p50), p99: round(load.p99) },
    serialLatencyMs: { p50: round(serial.p50), p99: round(serial.p99), runs: latencyRuns },
    rawSqliteCommitsPerSecond: round(rawCommits),
    workflowsPerRawCommit: round(throughput / rawCommits, 3),
  };
  if (values.json) {
    console.log(JSON.stringify(report));
  } else {
    const rows: [string, string][] = [
      ['workload', `W3 (3 activities in sequence), ${total} workflows`],
      ['store', `SQLite, ${report.durability}`],
      [
        'throughput',
        `${report.throughputWorkflowsPerSecond} workflows/s (up to ${concurrency} in flight)`,
      ],
      [
        'latency under load',
        `p50 ${report.underLoadLatencyMs.p50} ms, p99 ${report.underLoadLatencyMs.p99} ms`,
      ],
      [
        'latency one at a time',
        `p50 ${report.serialLatencyMs.p50} ms, p99 ${report.serialLatencyMs.p99} ms (${latencyRuns} runs)`,
      ],
      [
        'baseline: raw commits',
        `${report.rawSqliteCommitsPerSecond} single-row commits/s (same settings)`,
      ],
      ['ratio', `${report.workflowsPerRawCommit} workflows per raw commit`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
