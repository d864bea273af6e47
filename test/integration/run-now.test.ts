/**
 * Workflow tasks run inside the transaction that hands them to a worker (src/engine/run-now.ts):
 * fewer transactions, the same history, and nothing half done when such a transaction fails.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from 'keel/client';
import { TestWorkflowEnvironment } from 'keel/testing';
import { Worker, type Store } from 'keel/worker';
import type { StoreTransaction } from '../../src/store/store.ts';
import { withTestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/run-now-workflows.ts';
import { createRunNowActivities } from '../fixtures/run-now-activities.ts';
import { eventsOfType, historyOf, within } from '../fixtures/integration-support.ts';

/**
 * The store, with each transaction that writes history recorded (by the event types it appends),
 * and `failWhen` able to make a transaction fail after its work is done, before it commits.
 */
function observed(store: Store) {
  const writes: string[][] = [];
  let failWhen: ((appended: string[]) => boolean) | undefined;
  let failTaskRead: ((key: string) => boolean) | undefined;
  const wrapped = new Proxy(store, {
    get(target, property) {
      if (property === 'transaction') {
        return <T>(work: (tx: StoreTransaction) => Promise<T>) =>
          target.transaction(async (tx) => {
            const appended: string[] = [];
            const recording = new Proxy(tx, {
              get(inner, name) {
                const value = Reflect.get(inner, name) as unknown;
                if (name === 'getTask' && typeof value === 'function') {
                  return (key: string) => {
                    if (failTaskRead?.(key)) {
                      failTaskRead = undefined;
                      throw new Error(`injected: reading task ${key} failed`);
                    }
                    return (value as StoreTransaction['getTask']).call(inner, key);
                  };
                }
                if (name !== 'appendEvents' || typeof value !== 'function') {
                  return typeof value === 'function' ? value.bind(inner) : value;
                }
                return (runId: string, events: { eventType: string }[]) => {
                  appended.push(...events.map((e) => e.eventType));
                  return (value as StoreTransaction['appendEvents']).call(
                    inner,
                    runId,
                    events as never,
                  );
                };
              },
            });
            const result = await work(recording);
            if (failWhen?.(appended)) {
              failWhen = undefined;
              throw new Error('injected: the transaction failed before its commit');
            }
            if (appended.length > 0) writes.push(appended);
            return result;
          });
      }
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store: wrapped,
    writes,
    failOnce: (when: (appended: string[]) => boolean) => {
      failWhen = when;
    },
    failTaskReadOnce: (when: (key: string) => boolean) => {
      failTaskRead = when;
    },
  };
}

test('three activities in sequence take 5 transactions with tasks run now (9 without), and write the same history', async () => {
  const histories: string[][] = [];
  for (const runWorkflowTasksNow of [true, false]) {
    await withTestEnv(async (env) => {
      const { store, writes } = observed(env.store);
      const worker = await Worker.create({
        store,
        taskQueue: env.taskQueue,
        workflows,
        activities: createRunNowActivities([]),
        handleSignals: false,
        logger: env.logs,
        runWorkflowTasksNow,
      });
      const handle = await worker.runUntil(
        new Client({ store }).workflow
          .start(workflows.threeInSequence, {
            taskQueue: env.taskQueue,
            workflowId: `w3-${runWorkflowTasksNow}`,
            args: [1],
          })
          .then(async (handle) => {
            assert.equal(await within(10_000, 'result', handle.result()), 4);
            return handle;
          }),
      );
      histories.push((await historyOf(handle)).map((e) => e.eventType));
      if (!runWorkflowTasksNow) {
        // Eight that write history, and the claim of the first task, which writes none.
        assert.equal(writes.length, 8, JSON.stringify(writes));
        return;
      }
      const activityWithItsTask = (last: string) => [
        'ActivityTaskStarted',
        'ActivityTaskCompleted',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        last,
      ];
      assert.deepEqual(writes, [
        ['WorkflowExecutionStarted', 'WorkflowTaskScheduled'],
        // The first task, in the transaction that claimed it.
        ['WorkflowTaskStarted', 'WorkflowTaskCompleted', 'ActivityTaskScheduled'],
        // Each activity's result with the task it wakes.
        activityWithItsTask('ActivityTaskScheduled'),
        activityWithItsTask('ActivityTaskScheduled'),
        activityWithItsTask('WorkflowExecutionCompleted'),
      ]);
    });
  }
  assert.deepEqual(histories[0], histories[1]);
});

test('a transaction that fails after its workflow task ran now records nothing: the activity is retried, the worker replays, the workflow completes once', async () => {
  const env = await TestWorkflowEnvironment.createTimeSkipping();
  const { store, writes, failOnce } = observed(env.store);
  const executions: number[] = [];
  const worker = await Worker.create({
    store,
    taskQueue: 'run-now',
    workflows,
    activities: createRunNowActivities(executions),
    handleSignals: false,
    logger: { log() {} },
  });
  let failed = false;
  // The second activity's result, with the workflow task it wakes: lost before the commit.
  failOnce((appended) => {
    const hit =
      appended.includes('ActivityTaskCompleted') &&
      appended.includes('WorkflowTaskCompleted') &&
      executions.length === 2;
    failed ||= hit;
    return hit;
  });
  try {
    const result = await worker.runUntil(
      env.client.workflow.execute(workflows.threeInSequence, {
        taskQueue: 'run-now',
        workflowId: 'lost-commit',
        args: [10],
      }),
    );
    assert.equal(result, 13);
    assert.equal(failed, true, 'the injected failure happened');
    assert.deepEqual(executions, [10, 11, 11, 12], 'the second activity ran again');
    const events = await historyOf(env.client.workflow.getHandle('lost-commit'));
    assert.equal(eventsOfType(events, 'ActivityTaskScheduled').length, 3);
    assert.equal(eventsOfType(events, 'ActivityTaskCompleted').length, 3);
    assert.deepEqual(
      eventsOfType(events, 'ActivityTaskStarted').map((e) => e.attributes.attempt),
      [1, 2, 1],
    );
    assert.equal(writes.flat().filter((t) => t === 'WorkflowExecutionCompleted').length, 1);
  } finally {
    await env.teardown();
  }
});

test(
  'a task run now whose completion fails mid-way is let go: its run is not left locked in the worker, and the workflow completes',
  { timeout: 30_000 },
  async () => {
    const env = await TestWorkflowEnvironment.createTimeSkipping();
    const { store, failTaskReadOnce } = observed(env.store);
    const executions: number[] = [];
    const worker = await Worker.create({
      store,
      taskQueue: 'run-now-failing',
      workflows,
      activities: createRunNowActivities(executions),
      handleSignals: false,
      shutdownGraceTime: 10,
      logger: { log() {} },
    });
    // The task that the short activity wakes cancels the long one; its completion reads the long
    // one's task, and that read fails once: after the task ran, before its completion was recorded.
    let failed = false;
    failTaskReadOnce((key) => (failed = /\/activity\/\d+$/.test(key)));
    try {
      const result = await worker.runUntil(
        within(
          10_000,
          'the result',
          env.client.workflow.execute(workflows.cancelsTheOther, {
            taskQueue: 'run-now-failing',
            workflowId: 'fails-mid-completion',
            args: [5],
          }),
        ),
      );
      assert.equal(result, 6);
      assert.equal(failed, true, 'the injected failure happened');
      assert.deepEqual(executions, [5, 5], 'the short activity ran again, its first result lost');
    } finally {
      await env.teardown();
    }
  },
);
