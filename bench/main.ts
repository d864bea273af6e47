/**
 * `npm run bench`: W3 throughput and latency on a SQLite file (fsync on) next to the raw commit rate
 * of the same disk, then the replay benchmarks (cold replay of a 10,000-event history, heap of a
 * cached idle workflow). Prints a table; `--json` prints one JSON object on stdout instead.
 *
 * Options: --json, --workflows N (2000), --concurrency N (100), --latency-runs N (300),
 * --synchronous full|normal (full), --only w3|replay, --store sqlite|postgres (postgres adds W3 with
 * 1, 2 and 4 worker processes on the local PostgreSQL, or $KEEL_BENCH_POSTGRES_URL, and what
 * PostgreSQL alone does with W3's statements under pgbench, if installed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchReplay } from './replay.ts';
import {
  benchPostgres,
  postgresAloneOnW3,
  rawPostgresCommitsPerSecond,
  type PostgresConfigFigures,
} from './postgres.ts';
import { benchW3, round } from './w3.ts';

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      workflows: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '100' },
      'latency-runs': { type: 'string', default: '300' },
      synchronous: { type: 'string', default: 'full' },
      store: { type: 'string', default: 'sqlite' },
      only: { type: 'string' },
    },
  }));
} catch (error) {
  fail(
    `${(error as Error).message}. Options: --json --workflows N --concurrency N --latency-runs N --synchronous full|normal --only w3|replay`,
  );
}
const positive = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    fail(`--${name} must be a whole number of at least 1, not '${value}'`);
  return n;
};
const total = positive('workflows', values.workflows);
const concurrency = positive('concurrency', values.concurrency);
const latencyRuns = positive('latency-runs', values['latency-runs']);
const synchronous = values.synchronous;
if (synchronous !== 'full' && synchronous !== 'normal')
  fail(`--synchronous must be 'full' or 'normal', not '${synchronous}'`);
if (values.store !== 'sqlite' && values.store !== 'postgres')
  fail(`--store must be 'sqlite' or 'postgres', not '${values.store}'`);
if (values.only !== undefined && values.only !== 'w3' && values.only !== 'replay')
  fail(`--only must be 'w3' or 'replay', not '${values.only}'`);
if (!(globalThis as { gc?: unknown }).gc)
  console.error('bench: run with --expose-gc (npm run bench does) for the memory figures.');

const log = (line: string) => values.json || console.error(line);
const dir = mkdtempSync(join(tmpdir(), 'keel-bench-'));
try {
  const w3 =
    values.only === 'replay'
      ? undefined
      : await benchW3({ dir, total, concurrency, latencyRuns, synchronous, log });
  if (values.only !== 'w3')
    log('Replay: cold replay of a 10,000-event history, and cached idle workflows ...');
  const replay = values.only === 'w3' ? undefined : await benchReplay();
  const postgres =
    values.store === 'postgres' && values.only !== 'replay'
      ? {
          rawCommitsPerSecond8Clients: round(await rawPostgresCommitsPerSecond()),
          postgresAloneOnW3: await postgresAloneOnW3(),
          configurations: await benchPostgres({
            processes: [1, 2, 4],
            total,
            concurrency,
            latencyRuns: Math.min(latencyRuns, 200),
            log,
          }),
        }
      : undefined;
  if (values.json) {
    console.log(
      JSON.stringify({
        node: process.version,
        ...(w3 ? { w3 } : {}),
        ...(replay ? { replay } : {}),
        ...(postgres ? { postgres } : {}),
      }),
    );
  } else {
    const rows: [string, string][] = [];
    if (w3) {
      rows.push(
        ['workload', `W3 (3 activities in sequence), ${w3.workflows} workflows`],
        ['store', `SQLite, ${w3.durability}`],
        [
          'throughput',
          `${w3.throughputWorkflowsPerSecond} workflows/s (up to ${w3.concurrency} in flight)`,
        ],
        [
          'latency under load',
          `p50 ${w3.underLoadLatencyMs.p50} ms, p99 ${w3.underLoadLatencyMs.p99} ms`,
        ],
        [
          'latency one at a time',
          `p50 ${w3.serialLatencyMs.p50} ms, p99 ${w3.serialLatencyMs.p99} ms (${w3.serialLatencyMs.runs} runs)`,
        ],
        [
          'baseline: raw commits',
          `${w3.rawSqliteCommitsPerSecond} single-row commits/s (same settings)`,
        ],
        ['ratio', `${w3.workflowsPerRawCommit} workflows per raw commit`],
      );
    }
    if (replay) {
      rows.push(
        [
          'cold replay',
          `${replay.events} events: p50 ${replay.coldReplayMs.p50} ms, p99 ${replay.coldReplayMs.p99} ms (${replay.coldReplayMs.runs} runs)`,
        ],
        ['replay heap growth', `${replay.coldReplayHeapMb} MB for ${replay.events} events`],
        [
          'cached idle workflow',
          `${(replay.cachedIdleWorkflowBytes / 1024).toFixed(1)} KB of heap each (${replay.cachedWorkflowsMeasured} measured)`,
        ],
      );
    }
    if (postgres) {
      for (const c of postgres.configurations) {
        const name = `postgres, ${c.workerProcesses} worker${c.workerProcesses > 1 ? 's' : ''}`;
        rows.push([
          name,
          `${c.throughputWorkflowsPerSecond} workflows/s; under load p50 ${c.underLoadLatencyMs.p50} ms, p99 ${c.underLoadLatencyMs.p99} ms; one at a time p50 ${c.serialLatencyMs.p50} ms, p99 ${c.serialLatencyMs.p99} ms`,
        ]);
        const cpu = c.cpu
          ? `; CPU per workflow: client ${c.cpu.msPerWorkflow.client} ms, workers ${c.cpu.msPerWorkflow.workers} ms, PostgreSQL ${c.cpu.msPerWorkflow.postgres} ms (${c.cpu.coresBusy} of ${c.cpu.cores} cores busy, ${c.cpu.otherCoresBusy} more by the rest of the machine)`
          : '';
        rows.push(['', `${c.transactionIdsPerWorkflow} transaction ids per workflow${cpu}`]);
      }
      rows.push([
        'baseline: postgres',
        `${postgres.rawCommitsPerSecond8Clients} single-row commits/s with 8 connections`,
      ]);
      const alone = postgres.postgresAloneOnW3;
      rows.push([
        'bound: postgres alone',
        alone
          ? `W3's statements by pgbench (bench/w3-statements.sql): ${alone.workflowsPerSecond8Clients} workflows/s with 8 connections; ${alone.msPerWorkflow1Client} ms per workflow with one`
          : 'pgbench not found: not measured',
      ]);
      if (alone) {
        // How close Keel comes to what PostgreSQL alone does with the same statements.
        const each = (part: (c: PostgresConfigFigures) => string) =>
          postgres.configurations.map((c) => `${c.workerProcesses}: ${part(c)}`).join(', ');
        const percent = (c: PostgresConfigFigures) =>
          `${Math.round((c.throughputWorkflowsPerSecond / alone.workflowsPerSecond8Clients) * 100)}%`;
        const times = (c: PostgresConfigFigures) =>
          `${round(c.serialLatencyMs.p50 / alone.msPerWorkflow1Client)}x`;
        rows.push([
          'against the bound',
          `workers ${each(percent)} of its throughput; one at a time, ${each(times)} its latency`,
        ]);
      }
    }
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
