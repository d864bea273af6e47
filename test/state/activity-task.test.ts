import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TaskLostError } from '../../src/common/errors.ts';
import type { FailureInfo } from '../../src/common/failure-converter.ts';
import type { RetryPolicy } from '../../src/common/retry-policy.ts';
import {
  cancelActivityTask,
  claimActivityTask,
  completeActivityTask,
  expireActivityTask,
  failActivityTask,
  heartbeatActivityTask,
} from '../../src/state/activity-task.ts';
import { requestCancelWorkflow, terminateWorkflow, timeOutRun } from '../../src/state/execution.ts';
import { TaskState, taskKey, type TaskRecord } from '../../src/state/tasks.ts';
import {
  RUN_ID,
  Run,
  T0,
  appFailure,
  requestCancelActivity,
  scheduleActivity,
  types,
} from './harness.ts';

type ActivityRow = TaskRecord<'activity'>;

/** A run whose first workflow task scheduled activity `a1` with the given overrides. */
function runWithActivity(overrides: Parameters<typeof scheduleActivity>[1] = {}): Run {
  const run = new Run();
  run.runWorkflowTask([scheduleActivity('a1', overrides)]);
  return run;
}

function row(run: Run, id = 'a1'): ActivityRow {
  const task = run.activityRow(id);
  if (!task) throw new Error(`no task for ${id}`);
  return task;
}

/** The engine's scanner: expires the row of `id` at its expiresAt. */
function expire(run: Run, id = 'a1'): void {
  const task = row(run, id);
  assert.ok(task.expiresAt !== undefined, `task ${id} has no deadline`);
  run.step((m) => expireActivityTask(m, task), task.expiresAt - run.now);
}

describe('scheduling and claiming', () => {
  test('ScheduleActivityTask makes a ready task carrying everything a worker needs', () => {
    const run = runWithActivity({ heartbeatTimeout: 5000, scheduleToCloseTimeout: 100_000 });
    const task = row(run);
    assert.equal(task.key, taskKey.activity(RUN_ID, 5));
    assert.equal(task.state, 'ready');
    assert.equal(task.expiresAt, run.now + 100_000);
    assert.deepEqual(
      { ...task.data, retryPolicy: undefined },
      {
        workflowId: 'wf-1',
        workflowType: 'orderWorkflow',
        scheduledEventId: 5,
        activityId: 'a1',
        activityType: 'charge',
        input: ['a1'],
        scheduledTime: run.now,
        scheduleToCloseTimeout: 100_000,
        startToCloseTimeout: 30_000,
        heartbeatTimeout: 5000,
        retryPolicy: undefined,
        attempt: 1,
        readyTime: run.now,
      },
    );
  });

  test('a task without schedule-to-start or schedule-to-close has no deadline while it waits', () => {
    const run = runWithActivity();
    assert.equal(row(run).expiresAt, undefined);
  });

  test('claiming touches no history and is bounded by the earliest running deadline', () => {
    const run = runWithActivity({ heartbeatTimeout: 4000 });
    const historyLength = run.history.length;
    const claimed = claimActivityTask(row(run), 'aw', run.now + 50, 77);
    assert.equal(run.history.length, historyLength);
    assert.equal(claimed.state, 'claimed');
    assert.equal(claimed.claimToken, 77);
    assert.equal(claimed.claimedBy, 'aw');
    assert.equal(claimed.data.startedTime, run.now + 50);
    assert.equal(claimed.expiresAt, run.now + 50 + 4000);
    const noHeartbeat = claimActivityTask(row(runWithActivity()), 'aw', T0, 1);
    assert.equal(noHeartbeat.expiresAt, T0 + 30_000);
  });
});

describe('completion', () => {
  test('writes ActivityTaskStarted (last attempt) and ActivityTaskCompleted, and schedules a workflow task', () => {
    const run = runWithActivity();
    const claim = run.claimActivity('a1', 'aw-1', 20);
    run.step((m) => completeActivityTask(m, row(run), claim, { ok: true }, 'aw-1'), 30);
    assert.deepEqual(
      run.last.events.map((e) => [e.eventId, e.eventType, e.attributes]),
      [
        [6, 'ActivityTaskStarted', { scheduledEventId: 5, identity: 'aw-1', attempt: 1 }],
        [
          7,
          'ActivityTaskCompleted',
          { scheduledEventId: 5, startedEventId: 6, identity: 'aw-1', result: { ok: true } },
        ],
        [
          8,
          'WorkflowTaskScheduled',
          { taskQueue: 'main', startToCloseTimeout: 10_000, attempt: 1 },
        ],
      ],
    );
    assert.deepEqual(run.last.tasks.slice(0, 1), [
      { op: 'delete', key: taskKey.activity(RUN_ID, 5) },
    ]);
    assert.equal(run.activityRow('a1'), undefined);
    assert.deepEqual(run.state.activities, {});
    assert.equal(run.workflowTaskRow?.state, 'ready');
  });

  test('an undefined result is left out of the event', () => {
    const run = runWithActivity();
    const claim = run.claimActivity('a1');
    run.step((m) => completeActivityTask(m, row(run), claim, undefined, 'aw'));
    assert.equal('result' in run.eventsOf('ActivityTaskCompleted')[0]!.attributes, false);
  });

  test('a second completion, or one after a retry was scheduled, is refused', () => {
    const run = runWithActivity();
    const claim = run.claimActivity('a1');
    run.step((m) => completeActivityTask(m, row(run, 'a1'), claim, 1, 'aw'));
    assert.throws(
      () => run.step((m) => completeActivityTask(m, run.activityRow('a1'), claim, 2, 'aw')),
      (e: unknown) => e instanceof TaskLostError && e.reason === 'gone',
    );
    assert.equal(run.eventsOf('ActivityTaskCompleted').length, 1);

    // The attempt timed out and was put back for a retry: the old claim no longer holds it.
    const other = runWithActivity({ startToCloseTimeout: 1000 });
    const otherClaim = other.claimActivity('a1');
    const held = row(other);
    expire(other);
    const expired = row(other);
    assert.equal(expired.state, TaskState.Waiting);
    assert.throws(
      () => other.step((m) => completeActivityTask(m, expired, otherClaim, 1, 'aw')),
      (e: unknown) => e instanceof TaskLostError && e.reason === 'expired',
    );
    assert.throws(
      () =>
        heartbeatActivityTask(
          { ...held, claimToken: otherClaim.claimToken + 1 },
          otherClaim,
          'x',
          T0,
        ),
      (e: unknown) => e instanceof TaskLostError && e.reason === 'expired',
    );
  });

  test('a completion after the run closed deletes the task and writes nothing', () => {
    const run = runWithActivity();
    const claim = run.claimActivity('a1');
    const heldRow = row(run);
    run.step((m) => terminateWorkflow(m, 'stop', 'admin'));
    assert.equal(run.tasks.size, 0);
    // The row still exists when the engine read it in the same transaction as a racing terminate.
    run.step((m) => completeActivityTask(m, heldRow, claim, 1, 'aw'));
    assert.deepEqual(run.last.events, []);
    assert.deepEqual(run.last.tasks, [{ op: 'delete', key: heldRow.key }]);
  });
});

describe('failures and retries', () => {
  test('a retryable failure puts the task back after the backoff, writing no history', () => {
    const run = runWithActivity({
      retry: { initialInterval: 1000, backoffCoefficient: 3, maximumAttempts: 3 },
    });
    const historyLength = run.history.length;
    let claim = run.claimActivity('a1', 'aw', 10);
    const failure1 = appFailure('try 1', 'Flaky');
    run.step((m) => failActivityTask(m, row(run), claim, failure1, 'aw'), 40);
    assert.equal(run.history.length, historyLength);
    let task = row(run);
    assert.equal(task.state, 'waiting');
    assert.equal(task.expiresAt, run.now + 1000);
    assert.equal(task.claimedBy, undefined);
    assert.equal(task.data.attempt, 2);
    assert.equal(task.data.startedTime, undefined);
    assert.deepEqual(task.data.lastFailure, failure1);
    assert.ok(run.state.activities.a1, 'still pending in the run state');

    // The backoff ends: ready again, schedule-to-start measured from now.
    expire(run);
    task = row(run);
    assert.equal(task.state, 'ready');
    assert.equal(task.data.readyTime, run.now);
    assert.equal(run.last.events.length, 0);

    claim = run.claimActivity('a1', 'aw', 5);
    run.step((m) => failActivityTask(m, row(run), claim, appFailure('try 2', 'Flaky'), 'aw'));
    assert.equal(row(run).expiresAt, run.now + 3000, 'second delay is initialInterval × 3');
    expire(run);
    claim = run.claimActivity('a1', 'aw-last');
    const failure3 = appFailure('try 3', 'Flaky');
    run.step((m) => failActivityTask(m, row(run), claim, failure3, 'aw-last'));
    assert.deepEqual(
      run.last.events.map((e) => [e.eventType, e.attributes]),
      [
        [
          'ActivityTaskStarted',
          {
            scheduledEventId: 5,
            identity: 'aw-last',
            attempt: 3,
            lastFailure: appFailure('try 2', 'Flaky'),
          },
        ],
        [
          'ActivityTaskFailed',
          {
            scheduledEventId: 5,
            startedEventId: run.last.events[0]!.eventId,
            failure: failure3,
            retryState: 'MAXIMUM_ATTEMPTS_REACHED',
            identity: 'aw-last',
          },
        ],
        ['WorkflowTaskScheduled', { taskQueue: 'main', startToCloseTimeout: 10_000, attempt: 1 }],
      ],
    );
    assert.equal(run.activityRow('a1'), undefined);
  });

  test('a non-retryable failure, or a listed error type, closes the activity at once', () => {
    const cases: [FailureInfo, RetryPolicy][] = [
      [appFailure('no', 'Any', { nonRetryable: true }), {}],
      [appFailure('declined', 'CardDeclined'), { nonRetryableErrorTypes: ['CardDeclined'] }],
    ];
    for (const [failure, policy] of cases) {
      const run = runWithActivity({ retry: { maximumAttempts: 0, ...policy } });
      const claim = run.claimActivity('a1');
      run.step((m) => failActivityTask(m, row(run), claim, failure, 'aw'));
      const failed = run.eventsOf('ActivityTaskFailed')[0];
      assert.equal(failed?.attributes.retryState, 'NON_RETRYABLE_FAILURE');
    }
  });

  test("a failure's nextRetryDelay overrides the backoff", () => {
    const run = runWithActivity();
    const claim = run.claimActivity('a1');
    run.step((m) =>
      failActivityTask(
        m,
        row(run),
        claim,
        appFailure('later', 'E', { nextRetryDelay: 12_345 }),
        'aw',
      ),
    );
    assert.equal(row(run).expiresAt, run.now + 12_345);
  });

  test('a retry that would end after schedule-to-close closes the activity with retryState TIMEOUT', () => {
    const run = runWithActivity({
      scheduleToCloseTimeout: 10_000,
      retry: { initialInterval: 4000 },
    });
    const claim = run.claimActivity('a1', 'aw', 6500);
    run.step((m) => failActivityTask(m, row(run), claim, appFailure('x'), 'aw'));
    assert.equal(run.eventsOf('ActivityTaskFailed')[0]?.attributes.retryState, 'TIMEOUT');
  });

  test('heartbeat details given with a failure are kept for the next attempt', () => {
    const run = runWithActivity();
    const claim = run.claimActivity('a1');
    run.step((m) => failActivityTask(m, row(run), claim, appFailure('x'), 'aw', { cursor: 7 }));
    assert.deepEqual(row(run).data.heartbeatDetails, { cursor: 7 });
  });
});

describe('timeouts', () => {
  test('schedule-to-start fires for an unclaimed task and is not retried; no Started event', () => {
    const run = runWithActivity({ scheduleToStartTimeout: 5000, retry: { maximumAttempts: 0 } });
    assert.equal(row(run).expiresAt, run.now + 5000);
    expire(run);
    assert.deepEqual(types(run.last.events), ['ActivityTaskTimedOut', 'WorkflowTaskScheduled']);
    const timedOut = run.eventsOf('ActivityTaskTimedOut')[0]!;
    assert.equal(timedOut.attributes.startedEventId, 0);
    assert.equal(timedOut.attributes.retryState, 'TIMEOUT');
    assert.equal(timedOut.attributes.failure.timeoutFailureInfo?.timeoutType, 'SCHEDULE_TO_START');
    assert.equal(run.activityRow('a1'), undefined);
    assert.deepEqual(run.state.activities, {});
  });

  test('start-to-close fails the attempt and is retried per the policy', () => {
    const run = runWithActivity({
      startToCloseTimeout: 2000,
      retry: { initialInterval: 500, maximumAttempts: 2 },
    });
    run.claimActivity('a1', 'aw-1');
    expire(run);
    assert.equal(run.last.events.length, 0);
    let task = row(run);
    assert.equal(task.state, 'waiting');
    assert.equal(task.expiresAt, run.now + 500);
    assert.equal(task.data.attempt, 2);
    assert.equal(task.data.lastFailure?.timeoutFailureInfo?.timeoutType, 'START_TO_CLOSE');

    expire(run);
    run.claimActivity('a1', 'aw-2');
    task = row(run);
    assert.equal(task.expiresAt, run.now + 2000);
    expire(run);
    const [started, timedOut] = run.last.events;
    assert.equal(started?.eventType, 'ActivityTaskStarted');
    assert.deepEqual(started?.attributes, {
      scheduledEventId: 5,
      identity: 'aw-2',
      attempt: 2,
      lastFailure: task.data.lastFailure,
    });
    assert.equal(timedOut?.eventType, 'ActivityTaskTimedOut');
    const attributes = timedOut.attributes as {
      startedEventId: number;
      retryState: string;
      failure: FailureInfo;
    };
    assert.equal(attributes.startedEventId, started.eventId);
    assert.equal(attributes.retryState, 'MAXIMUM_ATTEMPTS_REACHED');
    assert.equal(attributes.failure.timeoutFailureInfo?.timeoutType, 'START_TO_CLOSE');
    assert.equal(attributes.failure.cause?.timeoutFailureInfo?.timeoutType, 'START_TO_CLOSE');
  });

  test('heartbeats push the deadline; a missed heartbeat times out with the last details', () => {
    const run = runWithActivity({
      startToCloseTimeout: 60_000,
      heartbeatTimeout: 2000,
      retry: { maximumAttempts: 2, initialInterval: 100 },
    });
    const claim = run.claimActivity('a1');
    const started = run.now;
    assert.equal(row(run).expiresAt, started + 2000);
    const beat = heartbeatActivityTask(row(run), claim, { progress: 1 }, started + 1500);
    assert.equal(beat.expiresAt, started + 3500);
    assert.equal(beat.data.lastHeartbeatTime, started + 1500);
    assert.deepEqual(beat.data.heartbeatDetails, { progress: 1 });
    // A heartbeat without details keeps the previous ones.
    const beat2 = heartbeatActivityTask(beat, claim, undefined, started + 1600);
    assert.deepEqual(beat2.data.heartbeatDetails, { progress: 1 });
    run.tasks.set(beat2.key, beat2);

    expire(run);
    assert.equal(run.now, started + 3600);
    let task = row(run);
    assert.equal(task.data.attempt, 2);
    assert.equal(task.data.lastFailure?.timeoutFailureInfo?.timeoutType, 'HEARTBEAT');
    assert.deepEqual(task.data.lastFailure?.timeoutFailureInfo?.lastHeartbeatDetails, {
      progress: 1,
    });

    expire(run);
    const claim2 = run.claimActivity('a1');
    task = row(run);
    // The new attempt starts with a fresh heartbeat clock but the old details.
    assert.equal(task.data.lastHeartbeatTime, undefined);
    assert.equal(task.expiresAt, run.now + 2000);
    run.tasks.set(task.key, heartbeatActivityTask(task, claim2, { progress: 2 }, run.now + 1000));
    expire(run);
    const timedOut = run.eventsOf('ActivityTaskTimedOut')[0]!;
    assert.equal(timedOut.attributes.retryState, 'MAXIMUM_ATTEMPTS_REACHED');
    assert.deepEqual(timedOut.attributes.failure.timeoutFailureInfo, {
      timeoutType: 'HEARTBEAT',
      lastHeartbeatDetails: { progress: 2 },
    });
  });

  test('schedule-to-close ends a running attempt without retry', () => {
    const run = runWithActivity({ scheduleToCloseTimeout: 5000, startToCloseTimeout: 30_000 });
    run.claimActivity('a1', 'aw', 1000);
    assert.equal(row(run).expiresAt, run.now - 1000 + 5000);
    expire(run);
    assert.deepEqual(types(run.last.events), [
      'ActivityTaskStarted',
      'ActivityTaskTimedOut',
      'WorkflowTaskScheduled',
    ]);
    const timedOut = run.eventsOf('ActivityTaskTimedOut')[0]!;
    assert.equal(timedOut.attributes.failure.timeoutFailureInfo?.timeoutType, 'SCHEDULE_TO_CLOSE');
    assert.equal(timedOut.attributes.retryState, 'TIMEOUT');
  });

  test('a timeout while a workflow task is held is buffered like any outcome', () => {
    const run = runWithActivity({ startToCloseTimeout: 1000, retry: { maximumAttempts: 1 } });
    run.claimActivity('a1');
    run.step((m) => requestCancelWorkflow(m));
    const held = run.claimWorkflowTask();
    expire(run);
    assert.deepEqual(run.last.events, []);
    assert.deepEqual(types(run.state.bufferedEvents), [
      'ActivityTaskStarted',
      'ActivityTaskTimedOut',
    ]);
    run.completeWorkflowTask(held.claim, []);
    const started = run.eventsOf('ActivityTaskStarted')[0]!;
    assert.equal(
      run.eventsOf('ActivityTaskTimedOut')[0]!.attributes.startedEventId,
      started.eventId,
    );
  });
});

describe('cancellation', () => {
  test('RequestCancelActivityTask on an unstarted activity cancels it at once', () => {
    const run = runWithActivity();
    run.step((m) => requestCancelWorkflow(m));
    run.runWorkflowTask([requestCancelActivity('a1')]);
    const events = run.last.events;
    assert.deepEqual(types(events), [
      'WorkflowTaskStarted',
      'WorkflowTaskCompleted',
      'ActivityTaskCancelRequested',
      'ActivityTaskCanceled',
      'WorkflowTaskScheduled',
    ]);
    const completedId = events[1]!.eventId;
    assert.deepEqual(events[2]!.attributes, {
      scheduledEventId: 5,
      workflowTaskCompletedEventId: completedId,
    });
    assert.deepEqual(events[3]!.attributes, {
      scheduledEventId: 5,
      startedEventId: 0,
      latestCancelRequestedEventId: events[2]!.eventId,
    });
    assert.equal(run.activityRow('a1'), undefined);
    assert.deepEqual(run.state.activities, {});
    assert.equal(run.workflowTaskRow?.state, 'ready');
  });

  test('an activity waiting out a retry backoff is also cancelled at once', () => {
    const run = runWithActivity();
    const claim = run.claimActivity('a1');
    run.step((m) => failActivityTask(m, row(run), claim, appFailure('x'), 'aw'));
    assert.equal(row(run).state, 'waiting');
    run.step((m) => requestCancelWorkflow(m));
    run.runWorkflowTask([requestCancelActivity('a1')]);
    assert.equal(run.eventsOf('ActivityTaskCanceled').length, 1);
    assert.equal(run.activityRow('a1'), undefined);
  });

  test('on a started activity it only marks the request; the activity then acknowledges it', () => {
    const run = runWithActivity();
    const claim = run.claimActivity('a1', 'aw');
    run.step((m) => requestCancelWorkflow(m));
    run.runWorkflowTask([requestCancelActivity('a1')]);
    assert.deepEqual(types(run.last.events), [
      'WorkflowTaskStarted',
      'WorkflowTaskCompleted',
      'ActivityTaskCancelRequested',
    ]);
    const requested = run.lastEvent;
    assert.equal(
      run.state.workflowTask,
      undefined,
      'no new workflow task until the activity answers',
    );
    assert.equal(run.state.activities.a1?.cancelRequestedEventId, requested.eventId);
    const task = row(run);
    assert.equal(task.state, 'claimed');
    assert.equal(task.claimToken, claim.claimToken);
    assert.equal(task.data.cancelRequested, true);
    // The next heartbeat carries the request to the worker.
    assert.equal(heartbeatActivityTask(task, claim, undefined, run.now).data.cancelRequested, true);

    run.step((m) => cancelActivityTask(m, row(run), claim, ['cleaned up'], 'aw'));
    const [started, canceled] = run.last.events;
    assert.equal(started?.eventType, 'ActivityTaskStarted');
    assert.equal(canceled?.eventType, 'ActivityTaskCanceled');
    assert.deepEqual(canceled?.attributes, {
      scheduledEventId: 5,
      startedEventId: started.eventId,
      latestCancelRequestedEventId: requested.eventId,
      identity: 'aw',
      details: ['cleaned up'],
    });
    assert.equal(run.workflowTaskRow?.state, 'ready');
  });

  test('a started activity whose cancellation was requested is not retried when it fails or times out', () => {
    const setUp = () => {
      const run = runWithActivity({ retry: { maximumAttempts: 0 } });
      const claim = run.claimActivity('a1');
      run.step((m) => requestCancelWorkflow(m));
      run.runWorkflowTask([requestCancelActivity('a1')]);
      return { run, claim };
    };
    const a = setUp();
    a.run.step((m) => failActivityTask(m, row(a.run), a.claim, appFailure('x'), 'aw'));
    assert.equal(
      a.run.eventsOf('ActivityTaskFailed')[0]?.attributes.retryState,
      'CANCEL_REQUESTED',
    );

    const b = setUp();
    expire(b.run);
    assert.equal(
      b.run.eventsOf('ActivityTaskTimedOut')[0]?.attributes.retryState,
      'CANCEL_REQUESTED',
    );
  });
});

describe('several tasks of a run expiring in one scan', () => {
  // The engine's scanner expires all due tasks of a run in one mutation, in expiresAt order. Once
  // the run closed (delete-run), no later change of that mutation may bring a task back.
  function closedInSameScan(prepare: (run: Run) => void, maximumAttempts = 0): Run {
    const run = new Run({ workflowRunTimeout: 60_000 });
    run.runWorkflowTask([
      scheduleActivity('a1', { startToCloseTimeout: 1000, retry: { maximumAttempts } }),
    ]);
    prepare(run);
    const runTimeout = run.tasks.get(taskKey.runTimeout(RUN_ID)) as TaskRecord<'run-timeout'>;
    const activity = row(run);
    run.step((m) => {
      timeOutRun(m, runTimeout);
      expireActivityTask(m, activity);
    }, 120_000);
    return run;
  }

  test('a start-to-close timeout with no retry left writes nothing after the run timed out', () => {
    const run = closedInSameScan((r) => void r.claimActivity('a1'), 1);
    assert.deepEqual(types(run.last.events), ['WorkflowExecutionTimedOut']);
    assert.equal(run.tasks.size, 0);
  });

  test(
    'an activity whose retry backoff ends in the same scan as the run timeout is not revived',
    {},
    () => {
      const run = closedInSameScan((r) => {
        const claim = r.claimActivity('a1');
        r.step((m) => failActivityTask(m, row(r), claim, appFailure('x'), 'aw'));
        assert.equal(row(r).state, 'waiting');
      });
      assert.equal(run.state.status, 'TimedOut');
      assert.deepEqual([...run.tasks.keys()], []);
    },
  );

  test(
    'an attempt that times out in the same scan as the run timeout is not put back for a retry',
    {},
    () => {
      const run = closedInSameScan((r) => void r.claimActivity('a1'));
      assert.equal(run.state.status, 'TimedOut');
      assert.deepEqual([...run.tasks.keys()], []);
    },
  );
});
