/**
 * Regressions of bugs found in code review, end to end on the store under test. Each test says what
 * went wrong before the fix.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure, WorkflowFailedError } from 'keel/client';
import { Worker } from 'keel/worker';
import { withTestEnv } from '../helpers/env.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitFor,
  waitForEvent,
  within,
  withOwnWorkers,
} from '../fixtures/integration-support.ts';
import * as workflows from '../fixtures/regression-workflows.ts';
import { createRegressionActivities } from '../fixtures/regression-activities.ts';

test('an activity gets a copy of its input and the workflow gets its result as JSON, as on replay', async () => {
  // Before: eager dispatch handed the same objects across, so the activity's change to its input
  // reached the workflow (and a Date stayed a Date) live but not on replay: the replay diverged.
  await withTestEnv(async (env) => {
    await env.startWorker({
      workflows,
      activities: createRegressionActivities(new ActivityProbe()),
    });
    const handle = await env.client.workflow.start(workflows.passesObjectsToActivities, {
      taskQueue: env.taskQueue,
      workflowId: 'objects',
    });
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      statusAfterActivity: 'new',
      whenType: 'string',
      slept: false,
    });
    await Worker.runReplayHistory({ workflows }, await handle.fetchHistory());
  });
});

test('a parent that closes before its child started does not apply its close policy to another workflow with that id', async () => {
  // Before: the policy went by workflow id alone, so the running workflow that made the child's
  // start fail was terminated when the parent completed.
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const bystander = await env.client.workflow.start(workflows.waitsForFinish, {
      taskQueue: env.taskQueue,
      workflowId: 'bystander',
    });
    const parent = await env.client.workflow.start(workflows.startsTakenChildAndReturns, {
      taskQueue: env.taskQueue,
      workflowId: 'closing-parent',
      args: ['bystander'],
    });
    assert.equal(await within(10_000, 'parent result', parent.result()), 'parent done');
    assert.equal((await bystander.describe()).status.name, 'Running');
    await bystander.signal(workflows.finish);
    assert.equal(await within(10_000, 'bystander result', bystander.result()), 'finished');
  });
});

test('a child that cannot start because its id is taken fails a parent that does not catch it', async () => {
  // Before: the error was not a failure, so the parent retried its workflow task forever.
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    await env.client.workflow.start(workflows.waitsForFinish, {
      taskQueue: env.taskQueue,
      workflowId: 'taken',
    });
    const parent = await env.client.workflow.start(workflows.executesTakenChild, {
      taskQueue: env.taskQueue,
      workflowId: 'parent-of-taken',
      args: ['taken'],
    });
    const error = await within(10_000, 'parent result', parent.result()).catch((e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.ok(error.cause instanceof ApplicationFailure, String(error.cause));
    assert.equal(error.cause.type, 'WorkflowExecutionAlreadyStartedError');
    assert.match(error.cause.message, /Child workflow 'taken' could not start/);
  });
});

test("cancelling a child that already completed never cancels a new workflow that took the child's id", async () => {
  // Before: the cancel request went to whatever run held the id.
  await withTestEnv(async (env) => {
    const childQueue = `${env.taskQueue}-children`;
    await withOwnWorkers(env, async (start) => {
      const parentWorker = await start({ workflows });
      await start({ workflows, taskQueue: childQueue });
      const parent = await env.client.workflow.start(workflows.parentCancelsChildOnSignal, {
        taskQueue: env.taskQueue,
        workflowId: 'canceller',
        args: ['child-id', childQueue],
      });
      await waitForEvent(parent, 'ChildWorkflowExecutionStarted');
      await parentWorker.stop();
      // While the parent's worker is away: it is asked to cancel its child, the child completes,
      // and an unrelated workflow starts with the child's id.
      await parent.signal(workflows.cancelChild);
      const child = env.client.workflow.getHandle('child-id');
      await child.signal(workflows.finish);
      assert.equal(await within(10_000, 'child result', child.result()), 'finished');
      const newcomer = await env.client.workflow.start(workflows.waitsForFinish, {
        taskQueue: childQueue,
        workflowId: 'child-id',
      });
      await start({ workflows });
      // The signal handler cancels first (the events are applied in history order).
      assert.equal(await within(10_000, 'parent result', parent.result()), 'child cancelled');
      assert.equal((await newcomer.describe()).status.name, 'Running');
      const events = await historyOf(newcomer);
      assert.equal(eventsOfType(events, 'WorkflowExecutionCancelRequested').length, 0);
      // The request did go out (the parent closed in the same task, so it records no outcome).
      const parentEvents = await historyOf(parent);
      assert.equal(
        eventsOfType(parentEvents, 'RequestCancelExternalWorkflowExecutionInitiated').length,
        1,
      );
      await newcomer.signal(workflows.finish);
    });
  });
});

test('a signal handler that cancels a timer which fired in the same task lets the workflow go on', async () => {
  // Before: the CancelTimer command named a timer the engine had closed; the task failed on every
  // attempt and the workflow was stuck.
  await withTestEnv(async (env) => {
    await withOwnWorkers(env, async (start) => {
      const workflowWorker = await start({ workflows });
      // Fires timers (every worker does) while the workflow's worker is away.
      await start({
        activities: createRegressionActivities(new ActivityProbe()),
        taskQueue: `${env.taskQueue}-other`,
      });
      const handle = await env.client.workflow.start(workflows.timerSkippedBySignal, {
        taskQueue: env.taskQueue,
        workflowId: 'timer-skip',
        args: [300],
      });
      await waitForEvent(handle, 'TimerStarted');
      await workflowWorker.stop();
      await handle.signal(workflows.skip);
      await waitForEvent(handle, 'TimerFired');
      await start({ workflows });
      assert.equal(await within(10_000, 'result', handle.result()), 'skipped');
      const events = await historyOf(handle);
      assert.equal(eventsOfType(events, 'WorkflowTaskFailed').length, 0);
      assert.equal(eventsOfType(events, 'TimerCanceled').length, 0);
      // The handler was synchronous: nothing was left running when the workflow returned.
      assert.equal(
        env.logs.lines.filter((l) => l.message.includes('handler(s) were still running')).length,
        0,
      );
    });
  });
});

test('a signal handler that cancels an activity which completed in the same task lets the workflow go on', async () => {
  await withTestEnv(async (env) => {
    const probe = new ActivityProbe();
    await withOwnWorkers(env, async (start) => {
      const workflowWorker = await start({ workflows });
      await start({
        activities: createRegressionActivities(probe),
        taskQueue: 'regression-activities',
      });
      const handle = await env.client.workflow.start(workflows.activitySkippedBySignal, {
        taskQueue: env.taskQueue,
        workflowId: 'activity-skip',
      });
      await within(10_000, 'activity start', probe.event('started').promise);
      await workflowWorker.stop();
      await handle.signal(workflows.skip);
      probe.event('release').resolve(undefined);
      await waitForEvent(handle, 'ActivityTaskCompleted');
      await start({ workflows });
      assert.equal(await within(10_000, 'result', handle.result()), 'skipped');
      const events = await historyOf(handle);
      assert.equal(eventsOfType(events, 'WorkflowTaskFailed').length, 0);
      assert.equal(eventsOfType(events, 'ActivityTaskCancelRequested').length, 0);
    });
  });
});

test('workflows that signal each other at the same moment all complete, without a timed-out task', async () => {
  // Before, on PostgreSQL: the two transactions locked the two runs in opposite orders, and the
  // lock timeout that broke the deadlock was not retried.
  await withTestEnv(async (env) => {
    await withOwnWorkers(env, async (start) => {
      for (let round = 0; round < 5; round++) {
        // Both runs exist before a worker polls (a signal to a run not started yet fails the
        // sender), and their first tasks are then ready, and taken, together.
        const [x, y] = await Promise.all(
          ['x', 'y'].map((id) =>
            env.client.workflow.start(workflows.signalsPartner, {
              taskQueue: env.taskQueue,
              workflowId: id,
              args: [id === 'x' ? 'y' : 'x'],
            }),
          ),
        );
        const worker = await start({ workflows, maxConcurrentWorkflowTaskExecutions: 16 });
        assert.deepEqual(await within(10_000, 'results', Promise.all([x!.result(), y!.result()])), [
          'heard y',
          'heard x',
        ]);
        await worker.stop();
        for (const handle of [x!, y!]) {
          const events = await historyOf(handle);
          assert.equal(eventsOfType(events, 'WorkflowTaskTimedOut').length, 0);
          assert.equal(eventsOfType(events, 'WorkflowTaskFailed').length, 0);
        }
      }
    });
  });
});

test("many updates do not grow the run's state; an old update's result is still read back", async () => {
  // Before: every completed update kept its input and outcome in the state that each change rewrites.
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const handle = await env.client.workflow.start(workflows.takesUpdates, {
      taskQueue: env.taskQueue,
      workflowId: 'updates',
    });
    const big = 'x'.repeat(10_000);
    const stateSize = async () =>
      JSON.stringify(await env.store.getExecution((await handle.describe()).runId)).length;
    for (let i = 1; i <= 60; i++) {
      assert.equal(
        await handle.executeUpdate(workflows.store, { args: [big], updateId: `u${i}` }),
        i,
      );
    }
    // 60 × 10 KB of arguments went in; the state keeps none of them.
    assert.ok((await stateSize()) < 20_000, `state is ${await stateSize()} bytes`);
    assert.equal(await handle.getUpdateHandle('u1').result(), 1);
    assert.equal(await handle.getUpdateHandle('u60').result(), 60);
    // The same id is still the same update: not run again.
    assert.equal(await handle.executeUpdate(workflows.store, { args: [big], updateId: 'u2' }), 2);
    await handle.signal(workflows.finish);
    assert.equal(await within(10_000, 'result', handle.result()), 60);
  });
});

test('a handle from a USE_EXISTING start can cancel a workflow that continued as new', async () => {
  // Before: the handle named the current run as the first of the chain, and cancel() said the id
  // had been reused by another workflow.
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const first = await env.client.workflow.start(workflows.continuesOnce, {
      taskQueue: env.taskQueue,
      workflowId: 'chain',
      args: [false],
    });
    await waitFor('the second run', async () => {
      const { runId } = await env.client.workflow.getHandle('chain').describe();
      return runId !== first.firstExecutionRunId;
    });
    const again = await env.client.workflow.start(workflows.continuesOnce, {
      taskQueue: env.taskQueue,
      workflowId: 'chain',
      args: [false],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    assert.equal(again.firstExecutionRunId, first.firstExecutionRunId);
    await again.cancel();
    const error = await within(10_000, 'result', again.result()).catch((e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.equal((await again.describe()).status.name, 'Canceled');
  });
});

test('a failure to claim queries does not strand the workflow tasks claimed in the same poll', async () => {
  // Before: the claimed workflow tasks were dropped and waited for their task timeout.
  await withTestEnv(async (env) => {
    const probe = new ActivityProbe();
    const worker = await env.startWorker({
      workflows,
      activities: createRegressionActivities(probe),
    });
    const engine = (worker as unknown as { engine: { claimQueryTasks: () => Promise<never> } })
      .engine;
    const claimQueries = engine.claimQueryTasks.bind(engine);
    let failures = 0;
    engine.claimQueryTasks = () => {
      failures++;
      return Promise.reject(new Error('injected: claiming queries failed'));
    };
    const handle = await env.client.workflow.start(workflows.runsOneActivity, {
      taskQueue: env.taskQueue,
      workflowId: 'query-claim',
    });
    await within(10_000, 'activity start', probe.event('started').promise);
    probe.event('release').resolve(undefined);
    assert.equal(await within(5_000, 'result', handle.result()), 'done');
    engine.claimQueryTasks = claimQueries;
    assert.ok(failures > 0, 'the injected failure was never hit');
    assert.equal(eventsOfType(await historyOf(handle), 'WorkflowTaskTimedOut').length, 0);
  });
});
