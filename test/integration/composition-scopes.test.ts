/**
 * Cancellation scopes end to end: cancelling a scope from inside, non-cancellable compensation,
 * withTimeout, the activity cancellation types, and termination (which runs no cleanup at all).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CancelledFailure,
  TerminatedFailure,
  WorkflowFailedError,
  type HistoryEvent,
  type WorkflowHandle,
} from 'keel/client';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/composition-workflows.ts';
import {
  createCompositionActivities,
  type CancelSeen,
} from '../fixtures/composition-activities.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitForEvent,
  within,
} from '../fixtures/integration-support.ts';

async function setup(env: TestEnv): Promise<ActivityProbe> {
  const probe = new ActivityProbe();
  await env.startWorker({ workflows, activities: createCompositionActivities(probe) });
  return probe;
}

async function failureOf(handle: WorkflowHandle): Promise<WorkflowFailedError> {
  const error = await within(10_000, 'result', handle.result()).then(
    (value) =>
      assert.fail(`the workflow should not complete; it returned ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  assert.equal(error instanceof WorkflowFailedError, true, String(error));
  return error as WorkflowFailedError;
}

function types(events: HistoryEvent[]): string[] {
  return events.map((e) => e.eventType);
}

function indexOf(list: string[], type: string, from = 0): number {
  const index = list.indexOf(type, from);
  assert.notEqual(index, -1, `no ${type} in ${list.join(', ')}`);
  return index;
}

/** The ActivityTaskScheduled event of the activity `record(label)`. */
function scheduledRecord(events: HistoryEvent[], label: string) {
  const event = eventsOfType(events, 'ActivityTaskScheduled').find(
    (e) => e.attributes.activityType === 'record' && e.attributes.input[0] === label,
  );
  assert.notEqual(event, undefined, `record('${label}') was not scheduled`);
  return event!;
}

function cancelled(probe: ActivityProbe, label: string): Promise<CancelSeen> {
  return within(
    10_000,
    `heartbeater ${label} to be cancelled`,
    probe.event<CancelSeen>(`heartbeater:${label}:cancelled`).promise,
  );
}

test('CancellationScope.cancellable: cancel() from inside cancels only the scope timer and activity', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.cancelsInnerScope, {
      taskQueue: env.taskQueue,
      workflowId: 'inner-scope',
    });
    await within(10_000, 'activity start', probe.event('heartbeater:inner:started').promise);
    await handle.signal(workflows.proceed, 'cancel');
    const seen = await cancelled(probe, 'inner');
    assert.equal(seen.reason, 'CANCELLED');
    assert.equal(seen.signalReasonName, 'CancelledFailure');
    // The activity's acknowledgement is recorded while the run is still open.
    await waitForEvent(handle, 'ActivityTaskCanceled');
    await handle.signal(workflows.proceed, 'done');
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      timer: 'CancelledFailure',
      activity: 'ActivityFailure <- CancelledFailure',
      after: 'done after the scope',
      outerTimerSettled: false,
    });

    const events = await historyOf(handle);
    const timers = eventsOfType(events, 'TimerStarted');
    assert.equal(timers.length, 2);
    const [outer, inner] = timers;
    assert.equal(outer!.attributes.startToFireTimeout, 24 * 60 * 60 * 1000);
    const canceled = eventsOfType(events, 'TimerCanceled');
    assert.deepEqual(
      canceled.map((e) => e.attributes.timerId),
      [inner!.attributes.timerId],
      'only the timer of the scope is cancelled',
    );
    assert.equal(eventsOfType(events, 'TimerFired').length, 0);
    const [requested] = eventsOfType(events, 'ActivityTaskCancelRequested');
    assert.equal(
      requested?.attributes.workflowTaskCompletedEventId,
      canceled[0]!.attributes.workflowTaskCompletedEventId,
      'timer and activity are cancelled by the same workflow task',
    );
    // TRY_CANCEL: the code went on at once; the acknowledgement came later.
    assert.equal(
      scheduledRecord(events, 'after the scope').attributes.workflowTaskCompletedEventId,
      requested?.attributes.workflowTaskCompletedEventId,
    );
    assert.equal(types(events).at(-1), 'WorkflowExecutionCompleted');
  });
});

test('saga: cancelled during an activity, the compensations run to completion in a nonCancellable scope, in reverse order', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.bookTrip, {
      taskQueue: env.taskQueue,
      workflowId: 'saga-cancel',
    });
    await within(10_000, 'charge to start', probe.event('heartbeater:charge:started').promise);
    await handle.cancel();
    const error = await failureOf(handle);
    assert.equal(error.cause instanceof CancelledFailure, true, String(error.cause));
    assert.equal((await handle.describe()).status.name, 'Canceled');
    assert.deepEqual(
      probe.of('compensate').map((a) => a.args[0]),
      ['release hotel', 'release car'],
    );

    const events = await historyOf(handle);
    const list = types(events);
    const cancelRequested = indexOf(list, 'WorkflowExecutionCancelRequested');
    const compensations = eventsOfType(events, 'ActivityTaskScheduled').filter(
      (e) => e.attributes.activityType === 'compensate',
    );
    assert.deepEqual(
      compensations.map((e) => e.attributes.input[0]),
      ['release hotel', 'release car'],
    );
    const positions = compensations.map((e) => events.indexOf(e));
    assert.equal(positions[0]! > cancelRequested, true, list.join(', '));
    // One after the other: the second is scheduled after the first completed.
    const firstCompleted = indexOf(list, 'ActivityTaskCompleted', positions[0]);
    assert.equal(firstCompleted < positions[1]!, true, list.join(', '));
    const completed = eventsOfType(events, 'ActivityTaskCompleted').map((e) => e.attributes.result);
    assert.deepEqual(completed.slice(-2), ['compensated release hotel', 'compensated release car']);
    assert.equal(list.at(-1), 'WorkflowExecutionCanceled');
  });
});

test('handle.terminate(reason) ends the saga at once: no compensation runs', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.bookTrip, {
      taskQueue: env.taskQueue,
      workflowId: 'saga-terminate',
    });
    await within(10_000, 'charge to start', probe.event('heartbeater:charge:started').promise);
    await handle.terminate('trip abandoned');
    const error = await failureOf(handle);
    assert.equal(error.cause instanceof TerminatedFailure, true, String(error.cause));
    assert.match(error.cause.message, /trip abandoned/);
    const d = await handle.describe();
    assert.equal(d.status.name, 'Terminated');
    assert.deepEqual(d.pendingActivities, []);
    // The run is closed: nothing can be added to its history any more.
    const events = await historyOf(handle);
    const last = events.at(-1) as HistoryEvent<'WorkflowExecutionTerminated'>;
    assert.equal(last.eventType, 'WorkflowExecutionTerminated');
    assert.equal(last.attributes.reason, 'trip abandoned');
    assert.equal(
      eventsOfType(events, 'ActivityTaskScheduled').filter(
        (e) => e.attributes.activityType === 'compensate',
      ).length,
      0,
    );
    // The running activity learns at its next heartbeat that its run is gone.
    assert.equal((await cancelled(probe, 'charge')).reason, 'NOT_FOUND');
    assert.equal(probe.of('compensate').length, 0);
  });
});

test('CancellationScope.withTimeout: a fast step cancels the timer; a slow heartbeating activity is cancelled (reason CANCELLED) when it fires', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.stepsWithTimeout, {
      taskQueue: env.taskQueue,
      workflowId: 'with-timeout',
      args: [300],
    });
    const result = await within(10_000, 'result', handle.result());
    assert.deepEqual(result, {
      fast: 'done fast',
      slow: {
        name: 'ActivityFailure',
        causeName: 'CancelledFailure',
        causeMessage: 'Activity cancelled',
      },
    });
    const seen = await cancelled(probe, 'slow');
    assert.equal(seen.reason, 'CANCELLED');
    assert.equal(seen.signalReasonName, 'CancelledFailure', 'its cancellationSignal aborted');

    const events = await historyOf(handle);
    const [dayTimer, shortTimer] = eventsOfType(events, 'TimerStarted');
    assert.equal(dayTimer?.attributes.startToFireTimeout, 24 * 60 * 60 * 1000);
    assert.equal(shortTimer?.attributes.startToFireTimeout, 300);
    assert.deepEqual(
      eventsOfType(events, 'TimerCanceled').map((e) => e.attributes.timerId),
      [dayTimer?.attributes.timerId],
    );
    assert.deepEqual(
      eventsOfType(events, 'TimerFired').map((e) => e.attributes.timerId),
      [shortTimer?.attributes.timerId],
    );
    const list = types(events);
    const fired = indexOf(list, 'TimerFired');
    const requested = indexOf(list, 'ActivityTaskCancelRequested');
    const acknowledged = indexOf(list, 'ActivityTaskCanceled');
    assert.equal(fired < requested && requested < acknowledged, true, list.join(', '));
    assert.equal(list.at(-1), 'WorkflowExecutionCompleted');
  });
});

/** Starts `cancelsActivityOfType(type)`, waits for its activity, and asks the workflow to cancel it. */
async function cancelActivityOfType(env: TestEnv, probe: ActivityProbe, type: string) {
  const handle = await env.client.workflow.start(workflows.cancelsActivityOfType, {
    taskQueue: env.taskQueue,
    workflowId: `cancel-${type}`,
    args: [type as 'TRY_CANCEL'],
  });
  await within(10_000, 'activity start', probe.event(`heartbeater:${type}:started`).promise);
  await handle.signal(workflows.proceed, 'cancel');
  await within(10_000, 'the step after', probe.event(`record:after ${type}`).promise);
  return handle;
}

const cancelledActivity = {
  name: 'ActivityFailure',
  causeName: 'CancelledFailure',
  causeMessage: 'Activity cancelled',
};

test('activity cancellationType TRY_CANCEL: the workflow goes on at once; the cancellation is requested and acknowledged later', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await cancelActivityOfType(env, probe, 'TRY_CANCEL');
    assert.equal((await cancelled(probe, 'TRY_CANCEL')).reason, 'CANCELLED');
    await waitForEvent(handle, 'ActivityTaskCanceled');
    await handle.signal(workflows.proceed, 'done');
    assert.deepEqual(await within(10_000, 'result', handle.result()), cancelledActivity);

    const events = await historyOf(handle);
    const [requested] = eventsOfType(events, 'ActivityTaskCancelRequested');
    const after = scheduledRecord(events, 'after TRY_CANCEL');
    assert.equal(
      after.attributes.workflowTaskCompletedEventId,
      requested?.attributes.workflowTaskCompletedEventId,
      'the next step was scheduled by the task that requested the cancellation',
    );
    const [canceled] = eventsOfType(events, 'ActivityTaskCanceled');
    assert.equal(canceled!.eventId > after.eventId, true);
    assert.equal(canceled?.attributes.latestCancelRequestedEventId, requested?.eventId);
  });
});

test('activity cancellationType WAIT_CANCELLATION_COMPLETED: the workflow sees the failure only once the activity acknowledged', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await cancelActivityOfType(env, probe, 'WAIT_CANCELLATION_COMPLETED');
    assert.equal((await cancelled(probe, 'WAIT_CANCELLATION_COMPLETED')).reason, 'CANCELLED');
    await handle.signal(workflows.proceed, 'done');
    assert.deepEqual(await within(10_000, 'result', handle.result()), cancelledActivity);

    const events = await historyOf(handle);
    const [requested] = eventsOfType(events, 'ActivityTaskCancelRequested');
    const [canceled] = eventsOfType(events, 'ActivityTaskCanceled');
    const after = scheduledRecord(events, 'after WAIT_CANCELLATION_COMPLETED');
    assert.equal(requested!.eventId < canceled!.eventId, true);
    assert.equal(
      canceled!.eventId < after.eventId,
      true,
      'the next step waited for the acknowledgement',
    );
    assert.equal(
      after.attributes.workflowTaskCompletedEventId >
        requested!.attributes.workflowTaskCompletedEventId,
      true,
    );
  });
});

test('activity cancellationType ABANDON: nothing is requested; the activity runs on until its run closes (then NOT_FOUND)', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await cancelActivityOfType(env, probe, 'ABANDON');
    await waitForEvent(handle, 'ActivityTaskCompleted');
    const events = await historyOf(handle);
    assert.equal(eventsOfType(events, 'ActivityTaskCancelRequested').length, 0);
    assert.equal(
      probe.event('heartbeater:ABANDON:cancelled').settled,
      false,
      'the abandoned activity was not told anything',
    );
    assert.deepEqual(
      (await handle.describe()).pendingActivities.map((a) => [a.activityType, a.state]),
      [['heartbeater', 'STARTED']],
      'the engine still tracks the abandoned activity',
    );
    await handle.signal(workflows.proceed, 'done');
    assert.deepEqual(await within(10_000, 'result', handle.result()), cancelledActivity);
    assert.equal((await cancelled(probe, 'ABANDON')).reason, 'NOT_FOUND');
    const final = await historyOf(handle);
    assert.equal(eventsOfType(final, 'ActivityTaskCancelRequested').length, 0);
    assert.equal(eventsOfType(final, 'ActivityTaskCanceled').length, 0);
    assert.equal(types(final).at(-1), 'WorkflowExecutionCompleted');
  });
});
