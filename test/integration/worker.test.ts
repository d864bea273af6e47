/**
 * Worker behaviour end to end: graceful shutdown and its grace time, concurrency limits, running
 * without a workflow cache, and workers that only run activities.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withTestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/worker-workflows.ts';
import { createWorkerActivities } from '../fixtures/worker-activities.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitFor,
  withOwnWorkers,
  within,
} from '../fixtures/integration-support.ts';

/** Message of the workflow task failure that src/state/workflow-task.ts:56 causes (see activities.test.ts). */
const KNOWN_STARTED_ID_BUG = /without the workflow task's WorkflowTaskStarted event/;

test('shutdown() lets a running activity finish within shutdownGraceTime and records its result', async () => {
  await withTestEnv(async (env) => {
    const probe = new ActivityProbe();
    const activities = createWorkerActivities(probe);
    await withOwnWorkers(env, async (startWorker) => {
      const first = await startWorker({
        workflows,
        activities,
        shutdownGraceTime: '10s',
        identity: 'first',
      });
      const handle = await env.client.workflow.start(workflows.runsSlowActivity, {
        taskQueue: env.taskQueue,
        workflowId: 'graceful',
        args: [400],
      });
      await within(10_000, 'activity start', probe.event('slow:started:1').promise);
      const stopping = Date.now();
      await within(10_000, 'shutdown', first.stop());
      const took = Date.now() - stopping;
      assert.equal(first.worker.state, 'STOPPED');
      // run() resolved only after the activity finished and its result was written.
      assert.ok(probe.event('slow:finished:1').settled, 'the activity finished');
      assert.ok(!probe.event('slow:cancelled:1').settled, 'the activity was not cancelled');
      assert.ok(took >= 300 && took < 5000, `shutdown took ${took} ms`);
      const completed = eventsOfType(await historyOf(handle), 'ActivityTaskCompleted');
      assert.equal(completed.length, 1);
      assert.equal(completed[0]!.attributes.identity, 'first');

      // The workflow task that reacts to the result waits for the next worker.
      assert.equal((await handle.describe()).status.name, 'Running');
      await startWorker({ workflows, activities, identity: 'second' });
      assert.equal(
        await within(10_000, 'result', handle.result()),
        'finished after 400 ms on attempt 1',
      );
      assert.equal(probe.of('slowOnFirstAttempt').length, 1);
    });
  });
});

test('past shutdownGraceTime a running activity is cancelled (WORKER_SHUTDOWN) and retried by another worker', async () => {
  await withTestEnv(async (env) => {
    const probe = new ActivityProbe();
    const activities = createWorkerActivities(probe);
    await withOwnWorkers(env, async (startWorker) => {
      const first = await startWorker({
        workflows,
        activities,
        shutdownGraceTime: 150,
        identity: 'first',
      });
      const handle = await env.client.workflow.start(workflows.runsSlowActivity, {
        taskQueue: env.taskQueue,
        workflowId: 'grace-over',
        args: [60_000],
      });
      await within(10_000, 'activity start', probe.event('slow:started:1').promise);
      const stopping = Date.now();
      await within(10_000, 'shutdown', first.stop());
      const took = Date.now() - stopping;
      assert.ok(took >= 140 && took < 5000, `shutdown took ${took} ms`);
      assert.equal(await probe.event('slow:cancelled:1').promise, 'WORKER_SHUTDOWN');

      // The failed attempt is waiting to be retried: no ActivityTaskFailed closes it.
      const pending = await waitFor('the activity to wait for its retry', async () => {
        const [activity] = (await handle.describe()).pendingActivities;
        return activity && activity.attempt === 2 ? activity : undefined;
      });
      assert.match(pending.lastFailureMessage ?? '', /shut down/);
      assert.equal(eventsOfType(await historyOf(handle), 'ActivityTaskFailed').length, 0);

      await startWorker({ workflows, activities, identity: 'second' });
      assert.equal(await within(10_000, 'result', handle.result()), 'quick on attempt 2');
      const [started] = eventsOfType(await historyOf(handle), 'ActivityTaskStarted');
      assert.equal(started?.attributes.attempt, 2);
      assert.equal(started?.attributes.identity, 'second');
      assert.equal(started?.attributes.lastFailure?.applicationFailureInfo?.type, 'WorkerShutdown');
    });
  });
});

test('maxConcurrentActivityTaskExecutions bounds how many activities run at once', async () => {
  await withTestEnv(async (env) => {
    const probe = new ActivityProbe();
    await env.startWorker({
      workflows,
      activities: createWorkerActivities(probe),
      maxConcurrentActivityTaskExecutions: 2,
    });
    const started = Date.now();
    const result = await within(
      15_000,
      'result',
      env.client.workflow.execute(workflows.fanOut, {
        taskQueue: env.taskQueue,
        workflowId: 'bounded',
        args: [6, 150],
      }),
    );
    assert.deepEqual(result, [0, 1, 2, 3, 4, 5]);
    assert.equal(probe.of('counted').length, 6);
    assert.equal(probe.maxRunning, 2);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 3 * 150, `six 150 ms activities two at a time took ${elapsed} ms`);
  });
});

test('maxCachedWorkflows: 0 replays every task and still completes workflows correctly', async () => {
  await withTestEnv(async (env) => {
    const probe = new ActivityProbe();
    await env.startWorker({
      workflows,
      activities: createWorkerActivities(probe),
      maxCachedWorkflows: 0,
    });
    const handles = await Promise.all(
      [10, 20, 30].map((base) =>
        env.client.workflow.start(workflows.multiStep, {
          taskQueue: env.taskQueue,
          workflowId: `uncached-${base}`,
          args: [base],
        }),
      ),
    );
    for (const [i, handle] of handles.entries()) {
      const base = [10, 20, 30][i]!;
      const result = await within(15_000, 'result', handle.result());
      assert.deepEqual(result, {
        total: base + (base + 1) + (base + 2) + (base + 3),
        trail: [`a=${base}`, 'slept', `b=${base + 1}`, `c=${base + 2}`, `d=${base + 3}`],
      });
      const events = await historyOf(handle);
      // Replays must match the history: no nondeterminism. (A task may fail on a separate known bug,
      // see the todo test 'results that arrive while the workflow task waits...' in activities.test.ts.)
      for (const failed of eventsOfType(events, 'WorkflowTaskFailed')) {
        assert.match(
          failed.attributes.failure.message,
          KNOWN_STARTED_ID_BUG,
          'unexpected task failure',
        );
      }
      assert.ok(eventsOfType(events, 'WorkflowTaskCompleted').length >= 4);
      assert.equal(eventsOfType(events, 'ActivityTaskScheduled').length, 4);
      assert.equal(eventsOfType(events, 'TimerStarted').length, 2);
    }
    // Logged once per run although every task replayed the run from the start.
    assert.equal(env.logs.lines.filter((l) => l.message === 'multiStep done').length, 3);
  });
});

test('a worker with only activities does not claim workflow tasks', async () => {
  await withTestEnv(async (env) => {
    const probe = new ActivityProbe();
    const activities = createWorkerActivities(probe);
    await env.startWorker({ activities, identity: 'activities-only' });
    const handle = await env.client.workflow.start(workflows.multiStep, {
      taskQueue: env.taskQueue,
      workflowId: 'activities-only-1',
      args: [1],
    });
    // A negative observation needs a window: the worker is told of the task at once, so 300 ms is ample.
    const until = Date.now() + 300;
    while (Date.now() < until) {
      const state = await env.store.getExecution(handle.runId!);
      assert.equal(state?.workflowTask?.started, undefined, 'the workflow task was claimed');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(
      (await historyOf(handle)).map((e) => e.eventType),
      ['WorkflowExecutionStarted', 'WorkflowTaskScheduled'],
    );

    // With a workflow-only worker next to it, each kind of task goes to the worker that runs it.
    await env.startWorker({ workflows, identity: 'workflows-only' });
    const more = await Promise.all(
      [2, 3, 4].map((n) =>
        env.client.workflow.start(workflows.multiStep, {
          taskQueue: env.taskQueue,
          workflowId: `activities-only-${n}`,
          args: [n],
        }),
      ),
    );
    for (const h of [handle, ...more]) {
      await within(15_000, 'result', h.result());
      const events = await historyOf(h);
      // The activities-only worker would fail a workflow task it claimed (it knows no workflow type).
      for (const failed of eventsOfType(events, 'WorkflowTaskFailed')) {
        assert.notEqual(failed.attributes.cause, 'UnknownWorkflowType');
        assert.notEqual(failed.attributes.identity, 'activities-only');
      }
      const workflowIdentities = new Set(
        eventsOfType(events, 'WorkflowTaskStarted').map((e) => e.attributes.identity),
      );
      assert.deepEqual([...workflowIdentities], ['workflows-only']);
      const activityIdentities = new Set(
        eventsOfType(events, 'ActivityTaskStarted').map((e) => e.attributes.identity),
      );
      assert.deepEqual([...activityIdentities], ['activities-only']);
    }
  });
});
