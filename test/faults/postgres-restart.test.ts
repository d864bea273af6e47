/**
 * Fault: PostgreSQL restarted in the middle of a run (issue 5, "Faults, tested with real processes").
 *
 * A worker process and this test's client run W3 workflows (three activities in sequence, input + 3)
 * on a fresh schema: the client keeps starting them and waits for every result. Part-way through, the
 * test restarts the local cluster (`pg_ctlcluster --skip-systemctl-redirect <version> main restart`,
 * fast mode: every connection is cut, open transactions roll back). The worker and the client must
 * reconnect by themselves (transient-error retries, the LISTEN connection re-established) and the
 * run must complete with nothing lost: every start returned, every workflow completed with the right
 * result, the worker still alive, every history clean (see histories.ts).
 *
 * Whatever happens, the test leaves PostgreSQL running: if `pg_isready` fails at the end, it starts
 * the cluster again. Note that the restart cuts every session of the server, other tests' too.
 * That is why the faults suite runs on its own, after the others (`npm run test:faults`).
 *
 * (Before PostgresStore listened for 'error' on every pooled client, checked out or not, the
 * server's 57P01 sometimes arrived as an unhandled 'error' event and killed the process.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client } from 'keel/client';
import { freshSchema, POSTGRES_URL } from '../helpers/postgres.ts';
import { faultEnv, waitUntil, whileAlive, exclusiveFaultRun } from './fault-env.ts';
import { count, historyProblems } from './histories.ts';

const run = promisify(execFile);
const WORKFLOWS = 500;
const CHUNK = 10;
const START_PAUSE_MS = 40;
/** The restart begins once this many workflows completed. */
const RESTART_AT = 100;

const pgUrl = new URL(POSTGRES_URL);
const version =
  existsSync('/etc/postgresql') && readdirSync('/etc/postgresql').find((v) => /^\d+$/.test(v));
const skip =
  !['127.0.0.1', 'localhost'].includes(pgUrl.hostname) || !version
    ? 'needs the local PostgreSQL cluster (pg_ctlcluster)'
    : false;
const port = pgUrl.port || '5432';

async function isReady(): Promise<boolean> {
  try {
    await run('pg_isready', ['-h', '127.0.0.1', '-p', port, '-t', '2']);
    return true;
  } catch {
    return false;
  }
}

async function pgctl(action: 'restart' | 'start'): Promise<void> {
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version as string, 'main', action]);
}

// One fault file at a time (see exclusiveFaultRun); the wait is not counted in the tests' timeouts.
let release: (() => void) | undefined;
before(async () => void (release = await exclusiveFaultRun()), { timeout: 300_000 });
after(() => release?.());

test(
  'PostgreSQL restarted mid-run: the worker and the client reconnect, every workflow completes once',
  { skip, timeout: 110_000 },
  async (t) => {
    const schema = freshSchema('keel_faults');
    const env = faultEnv();
    const client = new Client({ connection: schema.url });
    const taskQueue = 'pg-restart';
    let restart: Promise<void> | undefined;
    let monitoring = true;
    let monitor: Promise<void> | undefined;
    try {
      const worker = env.spawnWorker(schema.url, taskQueue, 'restart-worker', 'plain');
      await worker.waitForLine('ready', 30_000);
      const begun = Date.now();
      const since = () => Date.now() - begun;

      // Progress, sampled every 100 ms (failed samples, while the server is down, are skipped). The
      // restart begins once RESTART_AT workflows completed, while the starts go on.
      const timing: Record<string, number> = {};
      let completed = 0;
      const progress: { at: number; completed: number }[] = [];
      monitor = (async () => {
        while (monitoring) {
          try {
            completed = (await client.workflow.count({ query: "ExecutionStatus = 'Completed'" }))
              .count;
            progress.push({ at: since(), completed });
          } catch {
            // the server is restarting
          }
          if (!restart && completed >= RESTART_AT) {
            timing.restartBegunMs = since();
            timing.completedBeforeRestart = completed;
            restart = pgctl('restart').then(() => void (timing.restartCommandDoneMs = since()));
          }
          await delay(100);
        }
      })();

      const results: Promise<unknown>[] = [];
      let startsAfterRestartBegun = 0;
      for (let first = 0; first < WORKFLOWS; first += CHUNK) {
        if (restart) startsAfterRestartBegun += CHUNK;
        const handles = await whileAlive(
          'workflows to start',
          Promise.all(
            Array.from({ length: Math.min(CHUNK, WORKFLOWS - first) }, (_, k) =>
              client.workflow.start('w3', {
                taskQueue,
                workflowId: `restart-${first + k}`,
                args: [first + k],
                workflowTaskTimeout: '2s',
              }),
            ),
          ),
          [worker],
          30_000,
        );
        for (const handle of handles) {
          const result = handle.result();
          result.catch(() => undefined); // awaited below, unless the test fails before
          results.push(result);
        }
        await delay(START_PAUSE_MS);
      }
      timing.allStartedMs = since();
      const values = await whileAlive('every result', Promise.all(results), [worker], 60_000);
      timing.allResultsMs = since();
      await waitUntil(
        'the monitor to see every workflow completed',
        () => completed === WORKFLOWS,
        30_000,
      );
      monitoring = false;
      await monitor;
      await restart;

      // The longest time the client got no answer, and the longest time no workflow completed.
      const after = progress.filter((p) => p.at >= timing.restartBegunMs!);
      timing.clientOutageMs = Math.max(0, ...after.slice(1).map((p, i) => p.at - after[i]!.at));
      let stall = 0;
      for (let i = 0, since = 0; i < after.length; i++) {
        if (after[i]!.completed > after[since]!.completed) since = i;
        stall = Math.max(stall, after[i]!.at - after[since]!.at);
      }
      timing.longestStallMs = stall;
      timing.startsAfterRestartBegun = startsAfterRestartBegun;

      assert.equal(
        worker.child.exitCode,
        null,
        `the worker is still running; stderr: ${worker.stderr()}`,
      );
      assert.deepEqual(
        values
          .map((v, i) => (v === i + 3 ? 'ok' : `restart-${i} returned ${String(v)}`))
          .filter((v) => v !== 'ok'),
        [],
      );
      assert.equal((await client.workflow.count()).count, WORKFLOWS, 'one run per workflow');
      const problems: string[] = [];
      let workflowTaskTimeouts = 0;
      let activityRetries = 0;
      for (let first = 0; first < WORKFLOWS; first += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, WORKFLOWS - first) }, async (_, k) => {
            const input = first + k;
            const { events } = await client.workflow.getHandle(`restart-${input}`).fetchHistory();
            problems.push(
              ...historyProblems(events, input, 3).map((p) => `restart-${input}: ${p}`),
            );
            workflowTaskTimeouts += count(events, 'WorkflowTaskTimedOut');
            activityRetries += events.filter(
              (e) =>
                e.eventType === 'ActivityTaskStarted' &&
                (e.attributes as { attempt: number }).attempt > 1,
            ).length;
          }),
        );
      }
      const journal = [...env.journalByActivity().values()];
      const figures = {
        ...timing,
        activitiesRunMoreThanOnce: journal.filter((entries) => entries.length > 1).length,
        recordedAttemptsAfterFirst: activityRetries,
        workflowTaskTimeouts,
        workerErrorLines: worker
          .stdout()
          .split('\n')
          .filter((l) => l.startsWith('[error]')).length,
        workerLateCompletionsRefused: worker
          .stdout()
          .split('\n')
          .filter((l) => l.includes('no longer held')).length,
      };
      t.diagnostic(`postgres restart figures: ${JSON.stringify(figures)}`);
      assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems in the histories`);
      assert.equal(journal.length, WORKFLOWS * 3, 'every activity ran (at least once)');
      assert.equal(
        timing.completedBeforeRestart! < WORKFLOWS - 100 && startsAfterRestartBegun > 0,
        true,
        `the restart fell in the middle of the run: ${JSON.stringify(timing)}`,
      );
    } finally {
      monitoring = false;
      await monitor;
      await restart?.catch(() => undefined);
      let ready = false;
      for (let i = 0; i < 20 && !ready; i++) {
        ready = await isReady();
        if (!ready) await delay(500);
      }
      if (!ready) await pgctl('start').catch(() => pgctl('restart'));
      await env.dispose();
      await client.close();
      await schema.drop();
    }
  },
);
