/**
 * What happens when workflow code goes wrong: unknown types, bugs (task failures, retried),
 * deliberate failures (run failures), nondeterminism after a deploy, bad activity calls; and what
 * replay must keep stable (logs written once, random values).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure, WorkflowFailedError } from 'keel/client';
import { proxyActivities } from 'keel/workflow';
import { withTestEnv } from '../helpers/env.ts';
import * as fixtures from '../fixtures/workflow-errors-workflows.ts';
import { createWorkflowErrorsActivities } from '../fixtures/workflow-errors-activities.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitFor,
  waitForEvent,
  withOwnWorkers,
  within,
} from '../fixtures/integration-support.ts';

/** The fixtures as a worker registers them: everything but the versioned pair, which tests map by hand. */
const { determinismV1, determinismV2, ...workflows } = fixtures;

test('an unknown workflow type fails its task visibly, and completes once a worker that knows it polls', async () => {
  await withTestEnv(async (env) => {
    await withOwnWorkers(env, async (startWorker) => {
      const wrong = await startWorker({ workflows: { buggyAtFirst: workflows.buggyAtFirst } });
      const handle = await env.client.workflow.start(workflows.greet, {
        taskQueue: env.taskQueue,
        workflowId: 'unknown-type',
        args: ['world'],
      });
      const failed = await waitForEvent(handle, 'WorkflowTaskFailed');
      assert.equal(failed.attributes.cause, 'UnknownWorkflowType');
      assert.match(failed.attributes.failure.message, /'greet' is not registered/);
      assert.match(failed.attributes.failure.message, /registered: buggyAtFirst/);
      const description = await handle.describe();
      assert.equal(description.status.name, 'Running');
      assert.equal(description.lastWorkflowTaskFailure?.cause, 'UnknownWorkflowType');
      assert.match(description.lastWorkflowTaskFailure?.message ?? '', /'greet'/);

      await wrong.stop();
      await startWorker({ workflows });
      assert.equal(await within(15_000, 'result', handle.result()), 'hello world');
      const events = await historyOf(handle);
      assert.equal(eventsOfType(events, 'WorkflowTaskFailed').length, 1);
      assert.equal(events.at(-1)!.eventType, 'WorkflowExecutionCompleted');
      assert.equal((await handle.describe()).lastWorkflowTaskFailure, undefined);
    });
  });
});

test('a plain Error thrown by workflow code fails the workflow task, not the run, and the task is retried', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const handle = await env.client.workflow.start(workflows.buggyAtFirst, {
      taskQueue: env.taskQueue,
      workflowId: 'buggy-at-first',
      args: [2],
    });
    assert.equal(await within(15_000, 'result', handle.result()), 'fixed on attempt 3');
    const events = await historyOf(handle);
    const failed = eventsOfType(events, 'WorkflowTaskFailed');
    // Only the first failure of a streak is written.
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.attributes.cause, 'WorkflowWorkerUnhandledFailure');
    assert.equal(failed[0]!.attributes.failure.message, 'bug on attempt 1');
    assert.ok(
      eventsOfType(events, 'WorkflowTaskScheduled').some((e) => e.attributes.attempt === 3),
      'the successful attempt 3 is in the history',
    );
    assert.equal(eventsOfType(events, 'WorkflowExecutionFailed').length, 0);
    assert.equal(events.at(-1)!.eventType, 'WorkflowExecutionCompleted');
    assert.ok(env.logs.lines.some((l) => /bug on attempt 1/.test(l.message)));
  });
});

test('a workflow that keeps throwing a plain Error stays Running with lastWorkflowTaskFailure set', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const handle = await env.client.workflow.start(workflows.buggyAtFirst, {
      taskQueue: env.taskQueue,
      workflowId: 'always-buggy',
      args: [1_000],
    });
    const description = await waitFor('workflow task attempt 4', async () => {
      const d = await handle.describe();
      return (d.lastWorkflowTaskFailure?.attempt ?? 0) >= 4 ? d : undefined;
    });
    assert.equal(description.status.name, 'Running');
    assert.equal(description.lastWorkflowTaskFailure?.cause, 'WorkflowWorkerUnhandledFailure');
    assert.match(description.lastWorkflowTaskFailure?.message ?? '', /bug on attempt \d/);
    assert.equal(eventsOfType(await historyOf(handle), 'WorkflowTaskFailed').length, 1);
    await handle.terminate('test over');
  });
});

test('an ApplicationFailure thrown by workflow code fails the run', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const handle = await env.client.workflow.start(workflows.failsTheRun, {
      taskQueue: env.taskQueue,
      workflowId: 'fails-the-run',
    });
    const error = await handle.result().then(
      () => assert.fail('the run should fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.ok(error.cause instanceof ApplicationFailure, String(error.cause));
    assert.equal(error.cause.type, 'BusinessError');
    assert.equal(error.cause.message, 'business rule broken');
    assert.deepEqual(error.cause.details, [{ orderId: 7 }]);
    assert.match(error.cause.stack ?? '', /failsTheRun/);
    assert.equal((await handle.describe()).status.name, 'Failed');
    const events = await historyOf(handle);
    assert.equal(eventsOfType(events, 'WorkflowTaskFailed').length, 0);
    const [closed] = eventsOfType(events, 'WorkflowExecutionFailed');
    assert.equal(closed?.attributes.failure.applicationFailureInfo?.type, 'BusinessError');
  });
});

test('incompatible code for a running workflow fails its task with NonDeterministicError naming the event; the old code completes it', async () => {
  await withTestEnv(async (env) => {
    const probe = new ActivityProbe();
    await env.startWorker({ activities: createWorkflowErrorsActivities(probe) });
    await withOwnWorkers(env, async (startWorker) => {
      const v1 = await startWorker({
        workflows: { determinism: determinismV1 },
        maxCachedWorkflows: 0,
      });
      const handle = await env.client.workflow.start('determinism', {
        taskQueue: env.taskQueue,
        workflowId: 'determinism',
      });
      await within(10_000, 'the gate to start', probe.event('gate:started').promise);
      await v1.stop();

      const v2 = await startWorker({
        workflows: { determinism: determinismV2 },
        maxCachedWorkflows: 0,
      });
      probe.event('gate:open').resolve(undefined);
      const failed = await waitForEvent(handle, 'WorkflowTaskFailed');
      const gateScheduled = eventsOfType(await historyOf(handle), 'ActivityTaskScheduled').find(
        (e) => e.attributes.activityType === 'gate',
      )!;
      assert.equal(failed.attributes.cause, 'NonDeterministicError');
      assert.match(
        failed.attributes.failure.message,
        new RegExp(`event ${gateScheduled.eventId}\\b`),
      );
      assert.match(failed.attributes.failure.message, /'gate'/);
      assert.match(failed.attributes.failure.message, /StartTimer/);
      const description = await handle.describe();
      assert.equal(description.status.name, 'Running');
      assert.equal(description.lastWorkflowTaskFailure?.cause, 'NonDeterministicError');

      await v2.stop();
      await startWorker({ workflows: { determinism: determinismV1 }, maxCachedWorkflows: 0 });
      assert.equal(await within(15_000, 'result', handle.result()), 'two');
      const events = await historyOf(handle);
      assert.equal(eventsOfType(events, 'TimerStarted').length, 0);
      assert.equal(events.at(-1)!.eventType, 'WorkflowExecutionCompleted');
    });
  });
});

test('with every task replayed (maxCachedWorkflows: 0), log lines are written once and uuid4/Math.random/crypto.randomUUID are stable', async () => {
  await withTestEnv(async (env) => {
    const probe = new ActivityProbe();
    await env.startWorker({
      workflows,
      activities: createWorkflowErrorsActivities(probe),
      maxCachedWorkflows: 0,
    });
    const handle = await env.client.workflow.start(workflows.logsAndDrawsRandomness, {
      taskQueue: env.taskQueue,
      workflowId: 'replay-stable',
    });
    const result = await within(10_000, 'result', handle.result());
    const events = await historyOf(handle);
    // The values the first task drew went to the activity; the last task (a replay) returns the same.
    const [scheduled] = eventsOfType(events, 'ActivityTaskScheduled');
    assert.deepEqual(result, scheduled!.attributes.input[0]);
    assert.match(
      result.uuid,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.ok(result.random >= 0 && result.random < 1);
    assert.notEqual(result.uuid, result.cryptoUuid);
    assert.ok(eventsOfType(events, 'WorkflowTaskCompleted').length >= 3, 'three tasks ran');

    for (const [message, step] of [
      ['first task', 1],
      ['second task', 2],
      ['third task', 3],
    ] as const) {
      const lines = env.logs.lines.filter((l) => l.message === message);
      assert.equal(lines.length, 1, `'${message}' was logged ${lines.length} times`);
      assert.equal(lines[0]!.level, 'info');
      assert.equal(lines[0]!.attributes?.step, step);
      assert.equal(lines[0]!.attributes?.workflowId, 'replay-stable');
      assert.equal(lines[0]!.attributes?.workflowType, 'logsAndDrawsRandomness');
    }

    // Another run draws other values.
    const other = await env.client.workflow.execute(workflows.logsAndDrawsRandomness, {
      taskQueue: env.taskQueue,
      workflowId: 'replay-stable-2',
    });
    assert.notEqual(other.uuid, result.uuid);
    assert.notEqual(other.random, result.random);
  });
});

test('unserialisable activity arguments in workflow code fail the workflow task with a message naming the activity', async () => {
  await withTestEnv(async (env) => {
    const probe = new ActivityProbe();
    await env.startWorker({ workflows, activities: createWorkflowErrorsActivities(probe) });
    const handle = await env.client.workflow.start(workflows.passesAFunction, {
      taskQueue: env.taskQueue,
      workflowId: 'bad-activity-args',
    });
    const failed = await waitForEvent(handle, 'WorkflowTaskFailed');
    assert.equal(failed.attributes.cause, 'WorkflowWorkerUnhandledFailure');
    assert.match(failed.attributes.failure.message, /arguments of activity 'echo'/);
    assert.match(failed.attributes.failure.message, /'\[0\]\.callback' is a function/);
    assert.equal(eventsOfType(await historyOf(handle), 'ActivityTaskScheduled').length, 0);
    const description = await handle.describe();
    assert.equal(description.status.name, 'Running');
    assert.match(description.lastWorkflowTaskFailure?.message ?? '', /activity 'echo'/);
    await handle.terminate('test over');
  });
});

test('an unstorable workflow result fails the workflow task with a message naming it, and the run stays open', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const handle = await env.client.workflow.start(workflows.returnsHalfAnEmoji, {
      taskQueue: env.taskQueue,
      workflowId: 'bad-result',
    });
    const failed = await waitForEvent(handle, 'WorkflowTaskFailed');
    assert.match(failed.attributes.failure.message, /the result of workflow 'returnsHalfAnEmoji'/);
    assert.match(failed.attributes.failure.message, /half of a UTF-16 surrogate pair/);
    assert.equal((await handle.describe()).status.name, 'Running');
    await handle.terminate('test over');
  });
});

test('proxyActivities without a timeout or with a bad duration throws a clear TypeError where it is called', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /startToCloseTimeout or scheduleToCloseTimeout/],
    [{ retry: { maximumAttempts: 3 } }, /startToCloseTimeout or scheduleToCloseTimeout/],
    [{ startToCloseTimeout: 'soon' }, /Invalid startToCloseTimeout: "soon"/],
    [{ startToCloseTimeout: -5 }, /Invalid startToCloseTimeout: -5/],
    [{ startToCloseTimeout: '1s', heartbeatTimeout: 'often' }, /Invalid heartbeatTimeout/],
    [
      { startToCloseTimeout: '1s', retry: { initialInterval: 'x' } },
      /Invalid retry\.initialInterval/,
    ],
    [{ startToCloseTimeout: '1s', retry: { backoffCoefficient: 0.5 } }, /backoffCoefficient/],
  ];
  for (const [options, pattern] of cases) {
    assert.throws(
      () => proxyActivities(options as never),
      (error: unknown) => {
        assert.ok(error instanceof TypeError, `${JSON.stringify(options)}: ${String(error)}`);
        assert.match(error.message, pattern, JSON.stringify(options));
        return true;
      },
    );
  }

  // Inside workflow code, the same error fails the workflow task.
  await withTestEnv(async (env) => {
    await env.startWorker({
      workflows,
      activities: createWorkflowErrorsActivities(new ActivityProbe()),
    });
    const handle = await env.client.workflow.start(workflows.proxiesWith, {
      taskQueue: env.taskQueue,
      workflowId: 'proxy-without-timeout',
      args: [{ startToCloseTimeout: 'soon' }],
    });
    const failed = await waitForEvent(handle, 'WorkflowTaskFailed');
    assert.match(failed.attributes.failure.message, /Invalid startToCloseTimeout: "soon"/);
    assert.equal(failed.attributes.failure.applicationFailureInfo?.type, 'TypeError');
    await handle.terminate('test over');
  });
});
