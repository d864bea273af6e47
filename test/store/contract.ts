/**
 * The Store contract suite: written once against the `Store` port (src/store/store.ts) and run
 * against every implementation. Each test opens a fresh, empty database through the fixture.
 *
 * Rules the suite relies on, beyond the port's header comment:
 * - `close()` is idempotent, and `fixture.cleanup()` closes every store the fixture opened.
 * - `fixture.reopen()` opens a new store on the same database; tests close the old one first.
 * - `external-change` hints are ignored here: an implementation may send them for any reason.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StoreError } from '../../src/common/errors.ts';
import type { TaskChange, TaskRecord } from '../../src/state/tasks.ts';
import type { HistoryEvent } from '../../src/state/events.ts';
import type {
  ExecutionSummary,
  Store,
  StoreHint,
  StoreTransaction,
} from '../../src/store/store.ts';
import {
  activityData,
  activityTask,
  events,
  execution,
  recordHints,
  timerTask,
  waitFor,
  workflowTask,
} from './records.ts';

export interface StoreFixture {
  /** A store on a new, empty database. */
  store: Store;
  /** A new store on the same database (the caller has closed the previous one). */
  reopen: () => Promise<Store>;
  /** Closes every store this fixture opened that is still open, and removes the database. */
  cleanup: () => Promise<void>;
}

const put = (...tasks: TaskRecord[]): TaskChange[] => tasks.map((task) => ({ op: 'put', task }));

const putTasks = (store: Store, ...tasks: TaskRecord[]): Promise<void> =>
  store.transaction((tx) => tx.applyTaskChanges(put(...tasks)));

const getTask = (store: Store, key: string): Promise<TaskRecord | undefined> =>
  store.transaction((tx) => tx.getTask(key));

const byKey = (a: TaskRecord, b: TaskRecord) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The event that closes run r1 of `runningWithThreeEvents`. */
const closingOfR1 = {
  eventId: 4,
  eventTime: 9_000,
  eventType: 'WorkflowExecutionCompleted' as const,
  attributes: { result: { total: 3 }, workflowTaskCompletedEventId: 3 },
};

/** Run r1, running with three events, as stored; then `close()` completes it with `closingOfR1`. */
async function runningWithThreeEvents(store: Store) {
  const run = execution({ runId: 'r1', nextEventId: 4 });
  await store.transaction(async (tx) => {
    await tx.insertExecution(run);
    await tx.appendEvents('r1', events(1, 3));
  });
  return {
    close: () =>
      store.transaction(async (tx) => {
        await tx.appendEvents('r1', [closingOfR1]);
        await tx.updateExecution({ ...run, nextEventId: 5, status: 'Completed', closeTime: 9_000 });
      }),
  };
}

let markers = 0;

/**
 * Commits a ready task on a fresh queue and waits for its hint. Hints of earlier commits have then
 * arrived too, so a test can assert that some hint was not sent without sleeping.
 */
async function commitMarker(store: Store, hints: StoreHint[]): Promise<StoreHint> {
  const taskQueue = `marker-${++markers}`;
  await putTasks(store, workflowTask(`marker-run-${markers}`, { taskQueue }));
  const hint: StoreHint = { type: 'task-ready', kind: 'workflow', taskQueue };
  await waitFor(
    () => hints.some((h) => h.type === 'task-ready' && h.taskQueue === taskQueue),
    `the hint of ${taskQueue}`,
  );
  return hint;
}

export function storeContract(name: string, open: () => Promise<StoreFixture>): void {
  /** Runs `fn` on a fresh fixture, always cleaned up. */
  const fresh = (fn: (fixture: StoreFixture) => Promise<void>) => async () => {
    const fixture = await open();
    try {
      await fn(fixture);
    } finally {
      await fixture.cleanup();
    }
  };

  describe(`Store contract: ${name}`, () => {
    describe('transactions', () => {
      test(
        'resolve with the value of their work, and all their writes are visible afterwards',
        fresh(async ({ store }) => {
          const run = execution({ runId: 'r1', nextEventId: 4 });
          const task = activityTask('r1', 3);
          const value = await store.transaction(async (tx) => {
            await tx.insertExecution(run);
            await tx.appendEvents('r1', events(1, 3));
            await tx.applyTaskChanges(put(task, timerTask('r1', 't', 9_000)));
            return { answer: 42 };
          });
          assert.deepEqual(value, { answer: 42 });
          assert.deepEqual(await store.getExecution('r1'), run);
          assert.deepEqual(await store.readHistory('r1'), events(1, 3));
          assert.deepEqual(await store.activityTasks('r1'), [task]);
          assert.equal(await store.nextExpiry(), 9_000);
          assert.deepEqual(await getTask(store, task.key), task);
          assert.equal((await store.findExecution('wf-1'))?.runId, 'r1');
        }),
      );

      test(
        'write nothing when their work throws, and the error reaches the caller',
        fresh(async ({ store }) => {
          const existing = execution({ runId: 'r0', workflowId: 'wf-0' });
          const existingTask = workflowTask('r0');
          await store.transaction(async (tx) => {
            await tx.insertExecution(existing);
            await tx.applyTaskChanges(put(existingTask));
          });
          const boom = new Error('boom');
          await assert.rejects(
            store.transaction(async (tx) => {
              await tx.insertExecution(execution({ runId: 'r1' }));
              await tx.appendEvents('r1', events(1, 2));
              await tx.applyTaskChanges([
                ...put(activityTask('r1', 3), timerTask('r1', 't', 9_000)),
                { op: 'delete', key: existingTask.key },
              ]);
              await tx.updateExecution({ ...existing, status: 'Terminated', closeTime: 3_000 });
              throw boom;
            }),
            (error) => error === boom,
          );
          assert.equal(await store.getExecution('r1'), undefined);
          assert.deepEqual(await store.readHistory('r1'), []);
          assert.deepEqual(await store.activityTasks('r1'), []);
          assert.equal(await store.nextExpiry(), undefined);
          assert.deepEqual(await store.getExecution('r0'), existing);
          assert.deepEqual(await getTask(store, existingTask.key), existingTask);
          assert.equal(await store.findExecution('wf-1'), undefined);
        }),
      );

      test(
        'run concurrently: a failing one rolls back alone',
        fresh(async ({ store }) => {
          const results = await Promise.allSettled(
            Array.from({ length: 20 }, (_, i) =>
              store.transaction(async (tx) => {
                await tx.applyTaskChanges(put(activityTask('r1', i + 1)));
                await tx.appendEvents('r1', events(i + 1, 1));
                if (i % 2 === 1) throw new Error(`unit ${i} failed`);
                return i;
              }),
            ),
          );
          results.forEach((result, i) => {
            if (i % 2 === 0) assert.deepEqual(result, { status: 'fulfilled', value: i });
            else {
              assert.equal(result.status, 'rejected');
              assert.equal((result.reason as Error).message, `unit ${i} failed`);
            }
          });
          const even = Array.from({ length: 10 }, (_, j) => 2 * j + 1);
          const tasks = await store.activityTasks('r1');
          assert.deepEqual(
            tasks.map((t) => t.data.scheduledEventId).sort((a, b) => a - b),
            even,
          );
          const history = await store.readHistory('r1');
          assert.deepEqual(
            history.map((e) => e.eventId),
            even,
          );
        }),
      );

      test(
        'run concurrently: one failing on a database constraint rolls back alone',
        fresh(async ({ store }) => {
          // Two runs of one workflow id compete to be the running one; the loser's task must go too.
          const contender = (runId: string) =>
            store.transaction(async (tx) => {
              await tx.applyTaskChanges(put(workflowTask(runId)));
              await tx.insertExecution(execution({ runId, workflowId: 'wf-x' }));
              return runId;
            });
          const other = store.transaction(async (tx) => {
            await tx.insertExecution(execution({ runId: 'r3', workflowId: 'wf-y' }));
            await tx.applyTaskChanges(put(workflowTask('r3')));
          });
          const [a, b, c] = await Promise.allSettled([contender('r1'), contender('r2'), other]);
          assert.equal(c.status, 'fulfilled');
          const winners = [a, b].filter((r) => r.status === 'fulfilled');
          assert.equal(winners.length, 1, 'exactly one of two running runs of wf-x is inserted');
          const winner = (winners[0] as PromiseFulfilledResult<string>).value;
          const loser = winner === 'r1' ? 'r2' : 'r1';
          assert.equal(await store.transaction((tx) => tx.getRunningRunId('wf-x')), winner);
          assert.equal(await store.getExecution(loser), undefined);
          assert.equal(await getTask(store, `${loser}/workflow`), undefined);
          assert.notEqual(await getTask(store, `${winner}/workflow`), undefined);
          assert.notEqual(await store.getExecution('r3'), undefined);
          assert.notEqual(await getTask(store, 'r3/workflow'), undefined);
        }),
      );

      test(
        'never expose the writes of a failed transaction to another one',
        fresh(async ({ store }) => {
          const task = activityTask('r1', 3);
          const [failed, reader] = await Promise.allSettled([
            store.transaction(async (tx) => {
              await tx.applyTaskChanges(put(task));
              throw new Error('rolled back');
            }),
            store.transaction((tx) => tx.getTask(task.key)),
          ]);
          assert.equal(failed.status, 'rejected');
          assert.deepEqual(reader, { status: 'fulfilled', value: undefined });
          assert.equal(await getTask(store, task.key), undefined);
        }),
      );

      test(
        'refuse a transaction object used after its work ended, and write nothing through it',
        fresh(async ({ store }) => {
          let leaked: StoreTransaction | undefined;
          await store.transaction(async (tx) => {
            leaked = tx;
          });
          const task = activityTask('r1', 3);
          await assert.rejects(leaked!.applyTaskChanges(put(task)), StoreError);
          await assert.rejects(leaked!.insertExecution(execution({ runId: 'r1' })), StoreError);
          await assert.rejects(leaked!.getTask(task.key), StoreError);
          assert.equal(await getTask(store, task.key), undefined);
          assert.equal(await store.getExecution('r1'), undefined);
        }),
      );

      test(
        'are refused after close with an error naming the store',
        fresh(async ({ store }) => {
          await store.close();
          await assert.rejects(
            store.transaction(async () => 1),
            (error) =>
              error instanceof StoreError &&
              error.message.includes(store.location) &&
              /closed/i.test(error.message),
          );
        }),
      );

      test(
        'requested before close still commit, and close() is idempotent',
        fresh(async ({ store, reopen }) => {
          const pending = store.transaction(async (tx) => {
            await tx.insertExecution(execution({ runId: 'r1' }));
            return 'committed';
          });
          await store.close();
          assert.equal(await pending, 'committed');
          await store.close();
          const reopened = await reopen();
          assert.deepEqual(await reopened.getExecution('r1'), execution({ runId: 'r1' }));
        }),
      );
    });

    describe('executions', () => {
      test(
        'round-trip through insertExecution, getExecution and updateExecution',
        fresh(async ({ store }) => {
          const run = execution({
            runId: 'r1',
            nextEventId: 9,
            lastCompletedStartedEventId: 3,
            workflowTask: {
              scheduledEventId: 7,
              attempt: 2,
              scheduledTime: 4_000,
              started: { time: 4_100, identity: 'worker-1@host' },
            },
            bufferedEvents: [
              { eventType: 'TimerFired', attributes: { timerId: 'a', startedEventId: 5 } },
            ],
            activities: { '1': { scheduledEventId: 5, activityType: 'charge' } },
            timers: { a: { startedEventId: 6 } },
            lastWorkflowTaskFailure: { cause: 'X', message: 'ünïcödé ✓', attempt: 1, time: 4_050 },
          });
          await store.transaction(async (tx) => {
            assert.equal(await tx.getExecution('r1'), undefined);
            await tx.insertExecution(run);
            assert.deepEqual(await tx.getExecution('r1'), run);
          });
          assert.deepEqual(await store.getExecution('r1'), run);
          assert.deepEqual(await store.transaction((tx) => tx.getExecution('r1')), run);

          const updated = execution({
            runId: 'r1',
            status: 'Completed',
            closeTime: 5_000,
            nextEventId: 12,
            cancelRequested: true,
          });
          await store.transaction((tx) => tx.updateExecution(updated));
          assert.deepEqual(await store.getExecution('r1'), updated);
          assert.deepEqual(await store.transaction((tx) => tx.getExecution('r1')), updated);
          assert.equal(await store.getExecution('unknown'), undefined);
        }),
      );

      test(
        'getExecutionAndTask reads a run with one task, without the task, or nothing',
        fresh(async ({ store }) => {
          const run = execution({ runId: 'r1', nextEventId: 4 });
          const task = workflowTask('r1', {
            claimToken: 3,
            state: 'claimed',
            claimedBy: 'w1',
            expiresAt: 7_000,
          });
          await store.transaction(async (tx) => {
            await tx.insertExecution(run);
            await tx.applyTaskChanges(put(task));
          });
          await store.transaction(async (tx) => {
            assert.deepEqual(await tx.getExecutionAndTask('r1', task.key), { state: run, task });
            assert.deepEqual(await tx.getExecutionAndTask('r1', 'r1/activity/9'), {
              state: run,
              task: undefined,
            });
            // A task without its run is not read: the caller fails on the missing run first.
            assert.deepEqual(await tx.getExecutionAndTask('gone', task.key), {
              state: undefined,
              task: undefined,
            });
          });
        }),
      );

      test(
        'getRunningRunId names the running run of a workflow id, and none once it closed',
        fresh(async ({ store }) => {
          const run = execution({ runId: 'r1', workflowId: 'wf-a' });
          await store.transaction(async (tx) => {
            assert.equal(await tx.getRunningRunId('wf-a'), undefined);
            await tx.insertExecution(run);
            await tx.insertExecution(execution({ runId: 'r2', workflowId: 'wf-b' }));
            assert.equal(await tx.getRunningRunId('wf-a'), 'r1');
          });
          assert.equal(await store.transaction((tx) => tx.getRunningRunId('wf-a')), 'r1');
          assert.equal(await store.transaction((tx) => tx.getRunningRunId('wf-b')), 'r2');
          assert.equal(await store.transaction((tx) => tx.getRunningRunId('wf-c')), undefined);
          await store.transaction((tx) =>
            tx.updateExecution({ ...run, status: 'Failed', closeTime: 2_000 }),
          );
          assert.equal(await store.transaction((tx) => tx.getRunningRunId('wf-a')), undefined);
        }),
      );

      test(
        'allow at most one running run per workflow id',
        fresh(async ({ store }) => {
          const first = execution({ runId: 'r1', workflowId: 'wf-a' });
          await store.transaction((tx) => tx.insertExecution(first));
          await assert.rejects(
            store.transaction((tx) =>
              tx.insertExecution(execution({ runId: 'r2', workflowId: 'wf-a', startTime: 2_000 })),
            ),
          );
          assert.equal(await store.getExecution('r2'), undefined);
          assert.equal(await store.transaction((tx) => tx.getRunningRunId('wf-a')), 'r1');

          // Closed runs of the same workflow id may coexist with the running one.
          const closed = execution({
            runId: 'r0',
            workflowId: 'wf-a',
            status: 'Completed',
            startTime: 500,
            closeTime: 900,
          });
          await store.transaction((tx) => tx.insertExecution(closed));
          assert.deepEqual(await store.getExecution('r0'), closed);

          await store.transaction((tx) =>
            tx.updateExecution({ ...first, status: 'Canceled', closeTime: 2_500 }),
          );
          const next = execution({ runId: 'r3', workflowId: 'wf-a', startTime: 3_000 });
          await store.transaction((tx) => tx.insertExecution(next));
          assert.equal(await store.transaction((tx) => tx.getRunningRunId('wf-a')), 'r3');
        }),
      );
    });

    describe('history', () => {
      test(
        'payloads come back exactly as written: quotes, backslashes, braces, control and non-BMP characters',
        fresh(async ({ store }) => {
          const awkward = 'a "quoted" \\ back\\slash {brace} [x] , \n\t\u0001 \u2028 é 中文 😀 \'';
          const written = events(1, 2).map((e) => ({
            ...e,
            attributes: {
              ...e.attributes,
              timerId: awkward,
              nested: { [awkward]: [awkward, null, 1.5] },
            },
          })) as HistoryEvent[];
          await store.transaction((tx) => tx.appendEvents('r1', written));
          assert.deepEqual(await store.readHistory('r1'), written);
        }),
      );

      test(
        'readHistory returns appended events in order, from fromEventId on',
        fresh(async ({ store }) => {
          await store.transaction(async (tx) => {
            await tx.appendEvents('r1', events(1, 3));
            await tx.appendEvents('r2', events(1, 2, 7_000));
            await tx.appendEvents('r1', events(4, 2));
            assert.deepEqual(await tx.readHistory('r1', 1), events(1, 5));
          });
          await store.transaction((tx) => tx.appendEvents('r1', events(6, 6)));
          const all = events(1, 11);
          assert.deepEqual(await store.readHistory('r1'), all);
          assert.deepEqual(await store.readHistory('r1', 1), all);
          assert.deepEqual(await store.readHistory('r1', 4), all.slice(3));
          assert.deepEqual(await store.readHistory('r1', 11), all.slice(10));
          assert.deepEqual(await store.readHistory('r1', 12), []);
          assert.deepEqual(await store.readHistory('r2'), events(1, 2, 7_000));
          assert.deepEqual(await store.readHistory('r3'), []);
          assert.deepEqual(await store.transaction((tx) => tx.readHistory('r1', 10)), all.slice(9));
        }),
      );

      test(
        'refuse an event id the run already has, rolling back the whole transaction',
        fresh(async ({ store }) => {
          await store.transaction((tx) => tx.appendEvents('r1', events(1, 3)));
          await assert.rejects(
            store.transaction(async (tx) => {
              await tx.applyTaskChanges(put(workflowTask('r1')));
              await tx.appendEvents('r1', events(3, 2, 9_000));
            }),
          );
          assert.deepEqual(await store.readHistory('r1'), events(1, 3));
          assert.equal(await getTask(store, 'r1/workflow'), undefined);
        }),
      );

      test(
        'getOutcome gives the status, and the closing event once the run is closed',
        fresh(async ({ store }) => {
          const run = await runningWithThreeEvents(store);
          assert.deepEqual(await store.getOutcome('r1'), { status: 'Running' });
          await run.close();
          assert.deepEqual(await store.getOutcome('r1'), {
            status: 'Completed',
            closing: closingOfR1,
          });
          assert.equal(await store.getOutcome('r2'), undefined);
        }),
      );
    });

    describe('tasks', () => {
      test(
        'round-trip every field, including 48-bit claim tokens',
        fresh(async ({ store }) => {
          const claimed = activityTask('r1', 5, {
            state: 'claimed',
            claimToken: 2 ** 48 - 1,
            claimedBy: 'worker-7@host',
            expiresAt: 1_700_000_000_123,
            data: activityData({
              attempt: 3,
              startedTime: 1_699_999_999_000,
              heartbeatDetails: { progress: [1, 2, 3], note: 'ünïcödé' },
              lastFailure: {
                message: 'card declined',
                applicationFailureInfo: { type: 'CardDeclined', nonRetryable: false },
              },
              cancelRequested: true,
            }),
          });
          const { taskQueue: _none, ...bare } = workflowTask('r2', { state: 'waiting' });
          await putTasks(store, claimed, bare);
          assert.deepEqual(await getTask(store, claimed.key), claimed);
          assert.deepEqual(await getTask(store, bare.key), bare);
          assert.equal(await getTask(store, 'r1/activity/6'), undefined);
        }),
      );

      test(
        "op 'put' of an existing key replaces the task",
        fresh(async ({ store }) => {
          const ready = activityTask('r1', 5);
          await putTasks(store, ready);
          const claimed: TaskRecord<'activity'> = {
            ...ready,
            state: 'claimed',
            claimToken: 77,
            claimedBy: 'w1',
            expiresAt: 8_000,
            data: activityData({ scheduledEventId: 5, activityId: '5', startedTime: 7_000 }),
          };
          await putTasks(store, claimed);
          assert.deepEqual(await getTask(store, ready.key), claimed);
          assert.equal((await store.activityTasks('r1')).length, 1);
          assert.equal(await store.nextExpiry(), 8_000);

          // Fields absent from the new record are cleared, not kept from the old one.
          const retry = activityTask('r1', 5, {
            state: 'waiting',
            expiresAt: 9_000,
            data: activityData({ scheduledEventId: 5, activityId: '5', attempt: 2 }),
          });
          await putTasks(store, retry);
          assert.deepEqual(await getTask(store, ready.key), retry);
          await putTasks(store, ready);
          assert.deepEqual(await getTask(store, ready.key), ready);
          assert.equal(await store.nextExpiry(), undefined);
          assert.equal((await store.activityTasks('r1')).length, 1);
        }),
      );

      test(
        "op 'delete' removes one task; deleting a missing key is not an error",
        fresh(async ({ store }) => {
          const a = activityTask('r1', 5);
          const b = activityTask('r1', 6);
          await putTasks(store, a, b);
          await store.transaction((tx) =>
            tx.applyTaskChanges([
              { op: 'delete', key: a.key },
              { op: 'delete', key: 'no/such/task' },
            ]),
          );
          assert.equal(await getTask(store, a.key), undefined);
          assert.deepEqual(await getTask(store, b.key), b);
        }),
      );

      test(
        "op 'delete-run' removes every task of the run and only those",
        fresh(async ({ store }) => {
          const mine = [
            workflowTask('r1'),
            activityTask('r1', 5),
            activityTask('r1', 6, { state: 'claimed', expiresAt: 4_000 }),
            timerTask('r1', 't', 3_000),
          ];
          const theirs = [workflowTask('r2'), activityTask('r2', 5), timerTask('r2', 't', 5_000)];
          await putTasks(store, ...mine, ...theirs);
          await store.transaction((tx) => tx.applyTaskChanges([{ op: 'delete-run', runId: 'r1' }]));
          for (const task of mine) assert.equal(await getTask(store, task.key), undefined);
          for (const task of theirs) assert.deepEqual(await getTask(store, task.key), task);
          assert.deepEqual(await store.activityTasks('r1'), []);
          assert.equal(await store.nextExpiry(), 5_000);
        }),
      );

      test(
        "'delete-run' and activityTasks tell apart runs whose ids share a prefix",
        fresh(async ({ store }) => {
          const neighbours = ['r1-b', 'r10', 'r1.x', 'r1_', 'r'].flatMap((runId) => [
            workflowTask(runId),
            activityTask(runId, 5),
          ]);
          await putTasks(store, workflowTask('r1'), activityTask('r1', 5), ...neighbours);
          assert.deepEqual(await store.activityTasks('r1'), [activityTask('r1', 5)]);
          assert.deepEqual(await store.activityTasks('r'), [activityTask('r', 5)]);
          await store.transaction((tx) => tx.applyTaskChanges([{ op: 'delete-run', runId: 'r1' }]));
          assert.equal(await getTask(store, 'r1/workflow'), undefined);
          assert.deepEqual(await store.activityTasks('r1'), []);
          for (const task of neighbours) assert.deepEqual(await getTask(store, task.key), task);
        }),
      );

      test(
        'pendingWork counts ready and claimed tasks, and finds the soonest waiting expiry',
        fresh(async ({ store }) => {
          assert.deepEqual(await store.pendingWork(), { active: 0 });
          await putTasks(
            store,
            activityTask('r1', 5),
            workflowTask('r1', { state: 'claimed', claimToken: 1, expiresAt: 1_000 }),
            timerTask('r1', 't', 7_000),
            timerTask('r2', 't', 6_000),
            activityTask('r2', 5, { state: 'waiting', expiresAt: 8_000 }),
          );
          assert.deepEqual(await store.pendingWork(), { active: 2, nextWaitingExpiry: 6_000 });
          await store.transaction((tx) =>
            tx.applyTaskChanges([
              { op: 'delete', key: 'r1/activity/5' },
              { op: 'delete-run', runId: 'r2' },
            ]),
          );
          assert.deepEqual(await store.pendingWork(), { active: 1, nextWaitingExpiry: 7_000 });
        }),
      );

      test(
        'changes of one applyTaskChanges call apply in order',
        fresh(async ({ store }) => {
          const x = activityTask('r1', 1);
          const y = activityTask('r1', 2);
          const z = activityTask('r1', 3);
          const z2 = { ...z, state: 'waiting' as const, expiresAt: 6_000 };
          await putTasks(store, y);
          await store.transaction((tx) =>
            tx.applyTaskChanges([
              { op: 'put', task: x },
              { op: 'delete', key: x.key },
              { op: 'delete', key: y.key },
              { op: 'put', task: y },
              { op: 'put', task: z },
              { op: 'put', task: z2 },
            ]),
          );
          assert.equal(await getTask(store, x.key), undefined);
          assert.deepEqual(await getTask(store, y.key), y);
          assert.deepEqual(await getTask(store, z.key), z2);
        }),
      );

      test(
        "readyTasks returns ready tasks of one kind and queue, up to the limit, each run's oldest first",
        fresh(async ({ store }) => {
          // A store may partition a queue by run (PostgreSQL does): the order across runs is then
          // the store's, but a run's own tasks come oldest first. Keys sort differently from
          // insertion order, so ordering by key would be caught.
          const ids = [50, 7, 300, 12, 9];
          const ready = ids.map((id, i) => activityTask(`run-${9 - i}`, id));
          const sameRun = [40, 4, 400].map((id) => activityTask('run-s', id));
          await putTasks(store, ready[0]!, ready[1]!, sameRun[0]!);
          await putTasks(
            store,
            activityTask('r-x', 1, { state: 'claimed', claimToken: 5, expiresAt: 9_000 }),
            activityTask('r-x', 2, { state: 'waiting', expiresAt: 9_000 }),
            workflowTask('r-x'),
            activityTask('r-x', 3, { taskQueue: 'elsewhere' }),
            timerTask('r-x', 't', 1),
          );
          await putTasks(store, ready[2]!, sameRun[1]!);
          await putTasks(store, ready[3]!, ready[4]!, sameRun[2]!);
          const all = [...ready, ...sameRun];

          const read = (kind: 'activity' | 'workflow', queue: string, limit: number) =>
            store.transaction((tx) => tx.readyTasks(kind, queue, limit));
          const everything = await read('activity', 'orders', 20);
          assert.deepEqual([...everything].sort(byKey), [...all].sort(byKey));
          assert.deepEqual(
            everything.filter((t) => t.runId === 'run-s'),
            sameRun,
          );
          for (const limit of [1, 3]) {
            const some = await read('activity', 'orders', limit);
            assert.equal(some.length, limit);
            assert.equal(new Set(some.map((t) => t.key)).size, limit);
            for (const task of some) assert.ok(all.some((t) => t.key === task.key));
          }
          assert.deepEqual(await read('workflow', 'orders', 10), [workflowTask('r-x')]);
          assert.deepEqual(await read('activity', 'elsewhere', 10), [
            activityTask('r-x', 3, { taskQueue: 'elsewhere' }),
          ]);
          assert.deepEqual(await read('activity', 'nowhere', 10), []);

          // A task that stops being ready leaves the queue.
          await putTasks(store, {
            ...ready[0]!,
            state: 'claimed',
            claimToken: 1,
            expiresAt: 9_000,
          });
          assert.deepEqual(
            (await read('activity', 'orders', 20)).sort(byKey),
            all.slice(1).sort(byKey),
          );
        }),
      );

      test(
        'expiredTasks returns tasks whose expiresAt is due, soonest first, up to the limit',
        fresh(async ({ store }) => {
          const tasks = [
            timerTask('r1', 'c', 300),
            activityTask('r1', 5, { state: 'claimed', claimToken: 3, expiresAt: 100 }),
            workflowTask('r2', { state: 'waiting', expiresAt: 200 }),
            timerTask('r2', 'due-now', 500),
            timerTask('r3', 'later', 501),
            activityTask('r3', 6),
          ];
          await putTasks(store, ...tasks);
          const expired = (now: number, limit: number) =>
            store.transaction((tx) => tx.expiredTasks(now, limit));
          assert.deepEqual(await expired(500, 10), [tasks[1], tasks[2], tasks[0], tasks[3]]);
          assert.deepEqual(await expired(500, 2), [tasks[1], tasks[2]]);
          assert.deepEqual(await expired(250, 10), [tasks[1], tasks[2]]);
          assert.deepEqual(await expired(99, 10), []);
          assert.deepEqual(
            await expired(10_000, 10),
            tasks.slice(0, 5).sort((a, b) => a.expiresAt! - b.expiresAt!),
          );
        }),
      );

      test(
        'nextExpiry is the soonest expiresAt of any task',
        fresh(async ({ store }) => {
          assert.equal(await store.nextExpiry(), undefined);
          await putTasks(store, activityTask('r1', 5), workflowTask('r1'));
          assert.equal(await store.nextExpiry(), undefined);
          await putTasks(
            store,
            timerTask('r1', 'a', 7_000),
            timerTask('r2', 'b', 3_000),
            activityTask('r2', 5, { state: 'claimed', claimToken: 1, expiresAt: 5_000 }),
          );
          assert.equal(await store.nextExpiry(), 3_000);
          await store.transaction((tx) =>
            tx.applyTaskChanges([{ op: 'delete', key: 'r2/timer/b' }]),
          );
          assert.equal(await store.nextExpiry(), 5_000);
          await putTasks(store, activityTask('r2', 5));
          assert.equal(await store.nextExpiry(), 7_000);
        }),
      );

      test(
        'activityTasks(runId) returns the activity tasks of that run only',
        fresh(async ({ store }) => {
          const mine = [
            activityTask('r1', 9),
            activityTask('r1', 5, {
              state: 'claimed',
              claimToken: 4,
              claimedBy: 'w',
              expiresAt: 1,
            }),
            activityTask('r1', 7, { state: 'waiting', expiresAt: 2 }),
          ];
          await putTasks(
            store,
            ...mine,
            workflowTask('r1'),
            timerTask('r1', 't', 3),
            activityTask('r2', 5),
          );
          assert.deepEqual(
            [...(await store.activityTasks('r1'))].sort(byKey),
            [...mine].sort(byKey),
          );
          assert.deepEqual(await store.activityTasks('r2'), [activityTask('r2', 5)]);
          assert.deepEqual(await store.activityTasks('r3'), []);
        }),
      );
    });

    describe('visibility', () => {
      const summary = (state: ReturnType<typeof execution>): ExecutionSummary => ({
        workflowId: state.workflowId,
        runId: state.runId,
        workflowType: state.workflowType,
        taskQueue: state.taskQueue,
        status: state.status,
        startTime: state.startTime,
        ...(state.closeTime !== undefined ? { closeTime: state.closeTime } : {}),
        historyLength: state.nextEventId - 1,
      });

      test(
        'findExecution returns the latest run of a workflow id, or the run asked for',
        fresh(async ({ store }) => {
          const old = execution({
            runId: 'r-old',
            workflowId: 'wf-a',
            status: 'Completed',
            startTime: 1_000,
            closeTime: 1_500,
            nextEventId: 7,
          });
          const latest = execution({
            runId: 'r-new',
            workflowId: 'wf-a',
            startTime: 2_000,
            nextEventId: 3,
          });
          const other = execution({ runId: 'r-b', workflowId: 'wf-b', startTime: 3_000 });
          // Inserted newest first: the latest run is found by start time, not by insertion.
          await store.transaction(async (tx) => {
            await tx.insertExecution(latest);
            await tx.insertExecution(other);
          });
          await store.transaction((tx) => tx.insertExecution(old));

          assert.deepEqual(await store.findExecution('wf-a'), summary(latest));
          assert.deepEqual(await store.findExecution('wf-a', 'r-old'), summary(old));
          assert.deepEqual(await store.findExecution('wf-a', 'r-new'), summary(latest));
          assert.equal(await store.findExecution('wf-a', 'r-b'), undefined);
          assert.equal(await store.findExecution('wf-a', 'r-unknown'), undefined);
          assert.equal(await store.findExecution('wf-unknown'), undefined);

          const closed = {
            ...latest,
            status: 'TimedOut' as const,
            closeTime: 2_600,
            nextEventId: 5,
          };
          await store.transaction((tx) => tx.updateExecution(closed));
          assert.deepEqual(await store.findExecution('wf-a'), summary(closed));
        }),
      );

      test(
        'listExecutions filters, orders newest first, and pages with `before`',
        fresh(async ({ store }) => {
          const runs = [
            execution({
              runId: 'a1',
              workflowId: 'wf-a',
              startTime: 1_000,
              status: 'Completed',
              closeTime: 1_100,
            }),
            execution({
              runId: 'a2',
              workflowId: 'wf-a',
              startTime: 2_000,
              status: 'Failed',
              closeTime: 2_100,
            }),
            execution({ runId: 'a3', workflowId: 'wf-a', startTime: 3_000 }),
            execution({
              runId: 'b1',
              workflowId: 'wf-b',
              workflowType: 'Refund',
              startTime: 2_000,
            }),
            execution({
              runId: 'c1',
              workflowId: 'wf-c',
              workflowType: 'Refund',
              startTime: 2_000,
              status: 'Completed',
              closeTime: 2_500,
            }),
            execution({ runId: 'd1', workflowId: 'wf-d', startTime: 500, nextEventId: 40 }),
            execution({ runId: 'e1', workflowId: 'wf-e', startTime: 4_000 }),
          ];
          // Inserted in a shuffled order, across several transactions.
          for (const i of [3, 0, 6, 2, 5, 1, 4]) {
            await store.transaction((tx) => tx.insertExecution(runs[i]!));
          }
          const all = await store.listExecutions();
          assert.equal(all.length, runs.length);
          assert.deepEqual(
            [...all].sort((x, y) => (x.runId < y.runId ? -1 : 1)),
            runs.map(summary),
          );
          for (let i = 1; i < all.length; i++) {
            assert.ok(all[i - 1]!.startTime >= all[i]!.startTime, 'newest first');
          }
          assert.deepEqual(all.map((s) => s.runId).slice(0, 1), ['e1']);
          assert.deepEqual(all.map((s) => s.runId).slice(-1), ['d1']);

          const ids = async (options: Parameters<Store['listExecutions']>[0]) =>
            (await store.listExecutions(options)).map((s) => s.runId);
          assert.deepEqual(await ids({ workflowId: 'wf-a' }), ['a3', 'a2', 'a1']);
          assert.deepEqual((await ids({ status: 'Completed' })).sort(), ['a1', 'c1']);
          assert.deepEqual((await ids({ workflowType: 'Refund' })).sort(), ['b1', 'c1']);
          assert.deepEqual(await ids({ workflowType: 'Refund', status: 'Running' }), ['b1']);
          assert.deepEqual(await ids({ workflowId: 'wf-a', status: 'Running' }), ['a3']);
          assert.deepEqual(await ids({ workflowId: 'wf-unknown' }), []);
          assert.deepEqual(
            await ids({ pageSize: 3 }),
            all.slice(0, 3).map((s) => s.runId),
          );

          // Paging: three runs share startTime 2000, and a page boundary falls among them.
          for (const pageSize of [1, 2, 3, 4]) {
            const paged: ExecutionSummary[] = [];
            for (let pages = 0; ; pages++) {
              assert.ok(pages <= runs.length, `paging by ${pageSize} ends`);
              const last = paged.at(-1);
              const page = await store.listExecutions({
                pageSize,
                ...(last ? { before: { startTime: last.startTime, runId: last.runId } } : {}),
              });
              assert.ok(page.length <= pageSize);
              if (page.length === 0) break;
              paged.push(...page);
            }
            assert.deepEqual(paged, all, `pages of ${pageSize}`);
          }
          const beforeA3 = await ids({
            workflowId: 'wf-a',
            before: { startTime: 3_000, runId: 'a3' },
          });
          assert.deepEqual(beforeA3, ['a2', 'a1']);
        }),
      );
    });

    describe('hints', () => {
      test(
        "'task-ready' for a ready task put on a queue, 'expiry' with the time",
        fresh(async ({ store }) => {
          const { hints } = recordHints((l) => store.subscribe(l));
          await putTasks(store, activityTask('r1', 5, { taskQueue: 'q1' }));
          await waitFor(() => hints.length > 0, 'a hint');
          assert.deepEqual(hints, [{ type: 'task-ready', kind: 'activity', taskQueue: 'q1' }]);

          hints.length = 0;
          await putTasks(
            store,
            timerTask('r1', 't', 7_000),
            workflowTask('r1', {
              taskQueue: 'q2',
              state: 'claimed',
              claimToken: 3,
              expiresAt: 8_000,
            }),
            activityTask('r1', 6, { taskQueue: 'q3', state: 'waiting', expiresAt: 9_000 }),
          );
          await commitMarker(store, hints);
          assert.deepEqual(
            hints
              .filter((h) => h.type === 'expiry')
              .map((h) => h.at)
              .sort(),
            [7_000, 8_000, 9_000],
          );
          assert.deepEqual(
            hints.filter((h) => h.type === 'task-ready' && !h.taskQueue.startsWith('marker-')),
            [],
            'no task-ready for tasks that are not ready',
          );

          hints.length = 0;
          await putTasks(store, workflowTask('r2', { taskQueue: 'q4' }));
          await commitMarker(store, hints);
          assert.ok(
            hints.some(
              (h) => h.type === 'task-ready' && h.kind === 'workflow' && h.taskQueue === 'q4',
            ),
          );
        }),
      );

      test(
        "'run-closed' when an execution is updated to a closed status, and only then",
        fresh(async ({ store }) => {
          const { hints } = recordHints((l) => store.subscribe(l));
          const run = execution({ runId: 'r1' });
          await store.transaction((tx) => tx.insertExecution(run));
          await store.transaction((tx) => tx.updateExecution({ ...run, nextEventId: 5 }));
          await commitMarker(store, hints);
          assert.deepEqual(
            hints.filter((h) => h.type === 'run-closed'),
            [],
          );
          await store.transaction((tx) =>
            tx.updateExecution({ ...run, nextEventId: 6, status: 'Failed', closeTime: 2_000 }),
          );
          await waitFor(() => hints.some((h) => h.type === 'run-closed'), 'run-closed');
          assert.deepEqual(
            hints.filter((h) => h.type === 'run-closed'),
            [{ type: 'run-closed', runId: 'r1' }],
          );
        }),
      );

      test(
        "'run-closed' carries the outcome when the closing event was appended in the same transaction",
        fresh(async ({ store }) => {
          const { hints } = recordHints((l) => store.subscribe(l));
          const run = await runningWithThreeEvents(store);
          await run.close();
          await waitFor(() => hints.some((h) => h.type === 'run-closed'), 'run-closed');
          const [hint] = hints.filter((h) => h.type === 'run-closed');
          assert.deepEqual(hint, {
            type: 'run-closed',
            runId: 'r1',
            outcome: { status: 'Completed', closing: closingOfR1 },
          });
          // What a read gives, and a copy: the engine's objects stay its own.
          assert.deepEqual(hint.outcome, await store.getOutcome('r1'));
          assert.notEqual(hint.outcome?.closing, closingOfR1);
        }),
      );

      test(
        'none for a failed transaction',
        fresh(async ({ store }) => {
          const run = execution({ runId: 'r1' });
          await store.transaction((tx) => tx.insertExecution(run));
          const { hints } = recordHints((l) => store.subscribe(l));
          await assert.rejects(
            store.transaction(async (tx) => {
              await tx.applyTaskChanges(put(activityTask('r1', 5), timerTask('r1', 't', 7_000)));
              await tx.updateExecution({ ...run, status: 'Completed', closeTime: 2_000 });
              throw new Error('rolled back');
            }),
          );
          const marker = await commitMarker(store, hints);
          assert.deepEqual(hints, [marker]);
        }),
      );

      test(
        'are sent after the commit: a listener can read what the hint announces',
        fresh(async ({ store }) => {
          const reads: Promise<unknown>[] = [];
          store.subscribe((hint) => {
            if (hint.type === 'task-ready') reads.push(store.activityTasks('r1'));
            if (hint.type === 'run-closed') reads.push(store.getExecution(hint.runId));
          });
          const task = activityTask('r1', 5);
          const run = execution({ runId: 'r1' });
          await store.transaction(async (tx) => {
            await tx.insertExecution(run);
            await tx.applyTaskChanges(put(task));
          });
          const closed = { ...run, status: 'Completed' as const, closeTime: 3_000 };
          await store.transaction((tx) => tx.updateExecution(closed));
          await waitFor(() => reads.length === 2, 'two hints');
          assert.deepEqual(await Promise.all(reads), [[task], closed]);
        }),
      );

      test(
        'stop reaching a listener once it unsubscribed',
        fresh(async ({ store }) => {
          const gone = recordHints((l) => store.subscribe(l));
          const kept = recordHints((l) => store.subscribe(l));
          await putTasks(store, activityTask('r1', 5));
          await waitFor(() => gone.hints.length === 1, 'the first hint');
          gone.unsubscribe();
          await commitMarker(store, kept.hints);
          assert.equal(gone.hints.length, 1);
          assert.equal(kept.hints.length, 2);
        }),
      );
    });

    describe('durability', () => {
      test(
        'data survives close and reopen',
        fresh(async ({ store, reopen }) => {
          const running = execution({ runId: 'r1', workflowId: 'wf-a', nextEventId: 4 });
          const closed = execution({
            runId: 'r0',
            workflowId: 'wf-a',
            status: 'Completed',
            startTime: 500,
            closeTime: 900,
          });
          const tasks = [
            workflowTask('r1'),
            activityTask('r1', 2, { state: 'claimed', claimToken: 2 ** 40, expiresAt: 6_000 }),
            timerTask('r1', 't', 4_000),
          ];
          await store.transaction(async (tx) => {
            await tx.insertExecution(closed);
            await tx.insertExecution(running);
            await tx.appendEvents('r1', events(1, 3));
            await tx.applyTaskChanges(put(...tasks));
          });
          const listed = await store.listExecutions();
          await store.close();

          const reopened = await reopen();
          assert.deepEqual(await reopened.getExecution('r1'), running);
          assert.deepEqual(await reopened.getExecution('r0'), closed);
          assert.deepEqual(await reopened.readHistory('r1'), events(1, 3));
          assert.deepEqual(await reopened.listExecutions(), listed);
          assert.equal(await reopened.nextExpiry(), 4_000);
          assert.equal((await reopened.findExecution('wf-a'))?.runId, 'r1');
          await reopened.transaction(async (tx) => {
            for (const task of tasks) assert.deepEqual(await tx.getTask(task.key), task);
            assert.equal(await tx.getRunningRunId('wf-a'), 'r1');
            assert.deepEqual(await tx.readyTasks('workflow', 'orders', 10), [tasks[0]]);
          });
          // And the reopened store keeps working.
          await reopened.transaction((tx) => tx.appendEvents('r1', events(4, 1)));
          assert.deepEqual(await reopened.readHistory('r1'), events(1, 4));
        }),
      );
    });
  });
}
