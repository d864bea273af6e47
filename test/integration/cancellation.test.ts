/**
 * Cancellation and termination end to end: what the workflow, its activities and the client see,
 * and what the history records.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CancelledFailure,
  TerminatedFailure,
  WorkflowFailedError,
  type WorkflowHandle,
} from 'keel/client';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/cancellation-workflows.ts';
import {
  createCancellationActivities,
  type CancelSeen,
} from '../fixtures/cancellation-activities.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitForEvent,
  within,
} from '../fixtures/integration-support.ts';

async function setup(env: TestEnv): Promise<ActivityProbe> {
  const probe = new ActivityProbe();
  await env.startWorker({ workflows, activities: createCancellationActivities(probe) });
  return probe;
}

async function failureOf(handle: WorkflowHandle): Promise<WorkflowFailedError> {
  const error = await within(10_000, 'result', handle.result()).then(
    (value) =>
      assert.fail(`the workflow should not complete, it returned ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WorkflowFailedError, String(error));
  return error;
}

function indexOf(types: string[], type: string): number {
  const index = types.indexOf(type);
  assert.ok(index >= 0, `no ${type} in ${types.join(', ')}`);
  return index;
}

test('handle.cancel() during a sleep cancels the timer and the run', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.sleepsForADay, {
      taskQueue: env.taskQueue,
      workflowId: 'cancel-sleep',
    });
    const timer = await waitForEvent(handle, 'TimerStarted');
    await handle.cancel();
    const error = await failureOf(handle);
    assert.ok(error.cause instanceof CancelledFailure, String(error.cause));
    assert.equal((await handle.describe()).status.name, 'Canceled');

    const events = await historyOf(handle);
    const types = events.map((e) => e.eventType);
    const canceled = eventsOfType(events, 'TimerCanceled');
    assert.equal(canceled.length, 1);
    assert.equal(canceled[0]!.attributes.timerId, timer.attributes.timerId);
    assert.equal(eventsOfType(events, 'TimerFired').length, 0);
    assert.ok(indexOf(types, 'WorkflowExecutionCancelRequested') < indexOf(types, 'TimerCanceled'));
    assert.equal(types.at(-1), 'WorkflowExecutionCanceled');
  });
});

test('cancel during a heartbeating activity (WAIT_CANCELLATION_COMPLETED): the activity sees CANCELLED and the run waits for it', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.runsHeartbeater, {
      taskQueue: env.taskQueue,
      workflowId: 'cancel-activity-wait',
      args: ['WAIT_CANCELLATION_COMPLETED'],
    });
    await within(10_000, 'activity start', probe.event('heartbeater:started').promise);
    await handle.cancel();
    const seen = await within(
      10_000,
      'the activity to be cancelled',
      probe.event<CancelSeen>('heartbeater:cancelled').promise,
    );
    assert.equal(seen.reason, 'CANCELLED');
    assert.equal(seen.signalReasonName, 'CancelledFailure');
    const error = await failureOf(handle);
    assert.ok(error.cause instanceof CancelledFailure, String(error.cause));

    const types = (await historyOf(handle)).map((e) => e.eventType);
    const requested = indexOf(types, 'ActivityTaskCancelRequested');
    assert.ok(indexOf(types, 'WorkflowExecutionCancelRequested') < requested);
    // The run waited for the activity to acknowledge the cancellation before closing.
    assert.ok(requested < indexOf(types, 'ActivityTaskCanceled'));
    assert.ok(indexOf(types, 'ActivityTaskCanceled') < indexOf(types, 'WorkflowExecutionCanceled'));
    assert.equal(types.at(-1), 'WorkflowExecutionCanceled');
  });
});

test('cancel during a heartbeating activity (TRY_CANCEL): the run closes at once, the activity learns its run is gone', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.runsHeartbeater, {
      taskQueue: env.taskQueue,
      workflowId: 'cancel-activity-try',
      args: ['TRY_CANCEL'],
    });
    await within(10_000, 'activity start', probe.event('heartbeater:started').promise);
    await handle.cancel();
    const error = await failureOf(handle);
    assert.ok(error.cause instanceof CancelledFailure, String(error.cause));
    const types = (await historyOf(handle)).map((e) => e.eventType);
    assert.ok(indexOf(types, 'ActivityTaskCancelRequested') < types.length - 1);
    assert.equal(types.at(-1), 'WorkflowExecutionCanceled');
    assert.ok(!types.includes('ActivityTaskCanceled'), types.join(', '));
    // The request was recorded, but the run closed before the activity heard of it.
    const seen = await within(
      10_000,
      'the activity to be cancelled',
      probe.event<CancelSeen>('heartbeater:cancelled').promise,
    );
    assert.equal(seen.reason, 'NOT_FOUND');
  });
});

test('a workflow that catches the cancellation runs its cleanup activity in CancellationScope.nonCancellable', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.cleansUpOnCancel, {
      taskQueue: env.taskQueue,
      workflowId: 'cancel-cleanup',
    });
    await waitForEvent(handle, 'TimerStarted');
    await handle.cancel();
    const error = await failureOf(handle);
    assert.ok(error.cause instanceof CancelledFailure, String(error.cause));
    assert.deepEqual(
      probe.of('cleanup').map((a) => a.args),
      [['after cancel']],
    );

    const events = await historyOf(handle);
    const types = events.map((e) => e.eventType);
    const [scheduled] = eventsOfType(events, 'ActivityTaskScheduled');
    assert.equal(scheduled?.attributes.activityType, 'cleanup');
    const [completed] = eventsOfType(events, 'ActivityTaskCompleted');
    assert.equal(completed?.attributes.result, 'cleaned after cancel');
    assert.ok(
      indexOf(types, 'WorkflowExecutionCancelRequested') < indexOf(types, 'ActivityTaskScheduled'),
    );
    assert.ok(
      indexOf(types, 'ActivityTaskCompleted') < indexOf(types, 'WorkflowExecutionCanceled'),
    );
    assert.equal(types.at(-1), 'WorkflowExecutionCanceled');
  });
});

test('after cancellation, an activity outside a nonCancellable scope is cancelled before it is scheduled', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.cleansUpUnshielded, {
      taskQueue: env.taskQueue,
      workflowId: 'cancel-unshielded',
    });
    await waitForEvent(handle, 'TimerStarted');
    await handle.cancel();
    const result = await within(10_000, 'result', handle.result());
    assert.equal(result.cancelled, true, JSON.stringify(result));
    assert.equal(probe.of('cleanup').length, 0);
    const events = await historyOf(handle);
    assert.equal(eventsOfType(events, 'ActivityTaskScheduled').length, 0);
    // The workflow chose to swallow the cancellation and return: the run completes.
    assert.equal(events.at(-1)!.eventType, 'WorkflowExecutionCompleted');
  });
});

test('handle.terminate(reason) closes the run at once; a running activity learns at its next heartbeat (NOT_FOUND)', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.runsHeartbeater, {
      taskQueue: env.taskQueue,
      workflowId: 'terminate',
      args: ['TRY_CANCEL'],
    });
    await within(10_000, 'activity start', probe.event('heartbeater:started').promise);
    const terminatedAt = Date.now();
    await handle.terminate('operator stopped it');
    const error = await failureOf(handle);
    assert.ok(Date.now() - terminatedAt < 1000, 'result() answered at once');
    assert.ok(error.cause instanceof TerminatedFailure, String(error.cause));
    assert.match(error.cause.message, /operator stopped it/);
    assert.equal((await handle.describe()).status.name, 'Terminated');

    const events = await historyOf(handle);
    const last = events.at(-1)!;
    assert.equal(last.eventType, 'WorkflowExecutionTerminated');
    assert.equal((last.attributes as { reason?: string }).reason, 'operator stopped it');
    assert.equal(eventsOfType(events, 'ActivityTaskCancelRequested').length, 0);

    const seen = await within(
      10_000,
      'the activity to learn of the termination',
      probe.event<CancelSeen>('heartbeater:cancelled').promise,
    );
    assert.equal(seen.reason, 'NOT_FOUND');
  });
});
