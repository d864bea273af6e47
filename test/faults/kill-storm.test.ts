/**
 * Fault: a kill storm (issue 5, "Faults, tested with real processes").
 *
 * Four worker processes share one fresh PostgreSQL schema and run 2,000 W3 workflows (three
 * activities in sequence, input + 3) that this test starts in chunks. While they run, every 1-2 s
 * one worker is killed with SIGKILL (no cleanup: its claims, open transactions and connections die
 * with it) and a replacement is started. Activity start-to-close and workflow task timeouts are 2 s,
 * so the work a killed worker held is redelivered quickly.
 *
 * At the end every workflow has completed exactly once with the right result, and every history is
 * clean: event ids contiguous, exactly 3 ActivityTaskScheduled each with exactly one
 * ActivityTaskCompleted (a re-run activity's result recorded once), one WorkflowExecutionCompleted,
 * no workflow task closed twice. Activities journal each execution: a re-run after a kill is allowed
 * (at least once), and reported; a recorded result must come from an attempt that really ran.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from 'keel/client';
import { freshSchema } from '../helpers/postgres.ts';
import type { NodeProcess } from '../helpers/processes.ts';
import { faultEnv, sleepUnless, waitUntil, exclusiveFaultRun } from './fault-env.ts';
import { count, historyProblems, unjournaledResults } from './histories.ts';

const WORKFLOWS = 2000;
const WORKERS = 4;
const CHUNK = 100;

// One fault file at a time (see exclusiveFaultRun); the wait is not counted in the tests' timeouts.
let release: (() => void) | undefined;
before(async () => void (release = await exclusiveFaultRun()), { timeout: 300_000 });
after(() => release?.());

test(
  'kill storm: 4 workers, one SIGKILLed every 1-2 s, run 2,000 W3 workflows; each completes once with clean history',
  { timeout: 115_000 },
  async (t) => {
    const schema = freshSchema('keel_faults');
    const env = faultEnv();
    const client = new Client({ connection: schema.url });
    const taskQueue = 'kill-storm';
    let finished = false;
    let killer: Promise<void> | undefined;
    try {
      let spawned = 0;
      // A worker that dies of anything but the test's SIGKILL is a crash of its own.
      const crashes: string[] = [];
      const spawn = async (): Promise<NodeProcess> => {
        const identity = `storm-worker-${++spawned}`;
        // Runs sticky to a killed worker wait this long before any worker takes them: as short
        // as the workflow task timeout (2 s), so stranded work of either kind returns as quickly.
        const worker = env.spawnWorker(schema.url, taskQueue, identity, 'storm', {
          KEEL_FAULT_STICKY_MS: '2000',
        });
        void worker.exited.then(({ code, signal }) => {
          if (signal !== 'SIGKILL')
            crashes.push(
              `${identity} exited (code ${code}, signal ${signal}): ${worker.stderr().slice(-2000)}`,
            );
        });
        await worker.waitForLine('ready', 30_000);
        return worker;
      };
      const live = await Promise.all(Array.from({ length: WORKERS }, spawn));
      const begun = Date.now();

      // Kills every 1-2 s (kill to kill), among the workers that are up; replacements start meanwhile.
      let kills = 0;
      const killTimes: number[] = [];
      const replacements: Promise<void>[] = [];
      const spawnErrors: string[] = [];
      killer = (async () => {
        for (let next = Date.now() + 1000 + Math.random() * 1000; !finished;) {
          await sleepUnless(next - Date.now(), () => finished);
          next += 1000 + Math.random() * 1000;
          if (finished || live.length === 0) continue;
          const [victim] = live.splice(Math.floor(Math.random() * live.length), 1);
          await victim!.kill();
          kills++;
          killTimes.push(Date.now() - begun);
          replacements.push(
            spawn().then(
              (worker) => void live.push(worker),
              (error: Error) => void spawnErrors.push(error.message),
            ),
          );
        }
      })();

      for (let first = 0; first < WORKFLOWS; first += CHUNK) {
        await Promise.all(
          Array.from({ length: Math.min(CHUNK, WORKFLOWS - first) }, (_, k) =>
            client.workflow.start('w3', {
              taskQueue,
              workflowId: `storm-${first + k}`,
              args: [first + k],
              workflowTaskTimeout: '2s',
            }),
          ),
        );
      }
      const allStarted = Date.now() - begun;

      let completed = 0;
      await waitUntil(
        'every workflow to complete',
        async () => {
          completed = (await client.workflow.count({ query: "ExecutionStatus = 'Completed'" }))
            .count;
          return completed === WORKFLOWS;
        },
        90_000,
        250,
      ).catch((error: Error) => {
        throw new Error(
          `${error.message}; ${completed} of ${WORKFLOWS} completed after ${kills} kills`,
        );
      });
      const runTime = Date.now() - begun;
      finished = true;
      await killer;
      await Promise.all(replacements);
      await Promise.all(live.map((w) => w.kill()));

      assert.equal((await client.workflow.count()).count, WORKFLOWS, 'one run per workflow');
      const journal = env.journalByActivity();
      const problems: string[] = [];
      let workflowTaskTimeouts = 0;
      let activityRetries = 0;
      for (let first = 0; first < WORKFLOWS; first += CHUNK) {
        await Promise.all(
          Array.from({ length: Math.min(CHUNK, WORKFLOWS - first) }, async (_, k) => {
            const input = first + k;
            const handle = client.workflow.getHandle<(n: number) => Promise<number>>(
              `storm-${input}`,
            );
            const result = await handle.result();
            if (result !== input + 3) problems.push(`storm-${input} returned ${result}`);
            const { events } = await handle.fetchHistory();
            problems.push(...historyProblems(events, input, 3).map((p) => `storm-${input}: ${p}`));
            problems.push(...unjournaledResults(`storm-${input}`, events, journal));
            workflowTaskTimeouts += count(events, 'WorkflowTaskTimedOut');
            activityRetries += events.filter(
              (e) =>
                e.eventType === 'ActivityTaskStarted' &&
                (e.attributes as { attempt: number }).attempt > 1,
            ).length;
          }),
        );
      }
      const executions = [...journal.values()].filter(
        (entries) => entries[0]!.what !== 'workflow-task',
      );
      const reRun = executions.filter((entries) => entries.length > 1);
      const figures = {
        runTimeMs: runTime,
        allStartedAtMs: allStarted,
        kills,
        killTimesMs: killTimes,
        workersSpawned: spawned,
        activityExecutions: executions.reduce((sum, entries) => sum + entries.length, 0),
        activitiesRunMoreThanOnce: reRun.length,
        recordedAttemptsAfterFirst: activityRetries,
        workflowTaskTimeouts,
      };
      t.diagnostic(`kill storm figures: ${JSON.stringify(figures)}`);

      assert.deepEqual(spawnErrors, [], 'every replacement worker came up');
      assert.deepEqual(crashes, [], 'no worker died but those the test killed');
      assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems in the histories`);
      assert.equal(executions.length, WORKFLOWS * 3, 'every activity ran (at least once)');
      assert.equal(
        kills >= 3,
        true,
        `the storm went on during the run (${kills} kills in ${runTime} ms)`,
      );
    } finally {
      finished = true;
      await killer?.catch(() => undefined);
      await env.dispose();
      await client.close();
      await schema.drop();
    }
  },
);
