import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TaskLostError } from '../../src/common/errors.ts';
import { BadCommandError } from '../../src/state/commands-apply.ts';
import type { Command } from '../../src/state/commands.ts';
import { completeActivityTask, failActivityTask } from '../../src/state/activity-task.ts';
import { fireTimer, requestCancelWorkflow } from '../../src/state/execution.ts';
import { signalWorkflow } from '../../src/state/messages.ts';
import { Mutation } from '../../src/state/mutation.ts';
import { TaskState, taskKey } from '../../src/state/tasks.ts';
import {
  claimWorkflowTask,
  completeWorkflowTask,
  failWorkflowTask,
  timeOutWorkflowTask,
} from '../../src/state/workflow-task.ts';
import { workflowTaskRetryDelay } from '../../src/state/retry.ts';
import {
  RUN_ID,
  Run,
  T0,
  appFailure,
  cancelTimer,
  completeWorkflow,
  failWorkflow,
  requestCancelActivity,
  scheduleActivity,
  startTimer,
  types,
} from './harness.ts';

describe('startWorkflow', () => {
  test('writes WorkflowExecutionStarted and a first WorkflowTaskScheduled, with a ready workflow task', () => {
    const run = new Run({ identity: 'client-1' });
    assert.deepEqual(types(run.history), ['WorkflowExecutionStarted', 'WorkflowTaskScheduled']);
    const [started, scheduled] = run.history;
    assert.deepEqual(started, {
      eventId: 1,
      eventTime: T0,
      eventType: 'WorkflowExecutionStarted',
      attributes: {
        workflowType: 'orderWorkflow',
        taskQueue: 'main',
        input: [42],
        workflowId: 'wf-1',
        workflowTaskTimeout: 10_000,
        firstExecutionRunId: RUN_ID,
        attempt: 1,
        identity: 'client-1',
      },
    });
    assert.deepEqual(scheduled, {
      eventId: 2,
      eventTime: T0,
      eventType: 'WorkflowTaskScheduled',
      attributes: { taskQueue: 'main', startToCloseTimeout: 10_000, attempt: 1 },
    });
    assert.equal(run.state.nextEventId, 3);
    assert.equal(run.state.status, 'Running');
    assert.equal(run.state.workflowTask?.scheduledEventId, 2);
    assert.equal(run.state.workflowTask.attempt, 1);
    assert.equal(run.state.workflowTask.scheduledTime, T0);
    assert.equal(run.state.workflowTask.started, undefined);
    assert.deepEqual(
      [...run.tasks.values()],
      [
        {
          key: `${RUN_ID}/workflow`,
          kind: 'workflow',
          runId: RUN_ID,
          taskQueue: 'main',
          state: 'ready',
          claimToken: 0,
          data: {},
        },
      ],
    );
  });

  test('a run timeout becomes a waiting run-timeout task at the earlier of run and execution timeouts', () => {
    const runOnly = new Run({ workflowRunTimeout: 60_000 });
    const runTask = runOnly.tasks.get(taskKey.runTimeout(RUN_ID));
    assert.equal(runTask?.state, 'waiting');
    assert.equal(runTask?.expiresAt, T0 + 60_000);
    assert.deepEqual(runTask?.data, { timeoutType: 'RUN' });
    assert.equal(runOnly.history[0]?.eventType, 'WorkflowExecutionStarted');
    assert.equal(
      (runOnly.history[0]?.attributes as { workflowRunTimeout?: number }).workflowRunTimeout,
      60_000,
    );

    const both = new Run({ workflowRunTimeout: 60_000, workflowExecutionTimeout: 30_000 });
    const execTask = both.tasks.get(taskKey.runTimeout(RUN_ID));
    assert.equal(execTask?.expiresAt, T0 + 30_000);
    assert.deepEqual(execTask?.data, { timeoutType: 'EXECUTION' });

    const none = new Run();
    assert.equal(none.tasks.get(taskKey.runTimeout(RUN_ID)), undefined);
  });
});

describe('claimWorkflowTask', () => {
  test('writes no event, and tells the worker the Started event it will get', () => {
    const run = new Run();
    const { claim, start } = run.claimWorkflowTask('worker-a', 250);
    assert.equal(run.last.events.length, 0);
    assert.equal(run.state.nextEventId, 3);
    assert.deepEqual(run.state.workflowTask?.started, { time: T0 + 250, identity: 'worker-a' });
    const { scheduledEventId, startedEventId, startedTime, attempt, previousStartedEventId } =
      start;
    assert.deepEqual(
      { scheduledEventId, startedEventId, startedTime, attempt, previousStartedEventId },
      {
        scheduledEventId: 2,
        startedEventId: 3,
        startedTime: T0 + 250,
        attempt: 1,
        previousStartedEventId: 0,
      },
    );
    assert.deepEqual(start.transientEvents, [
      {
        eventId: 3,
        eventTime: T0 + 250,
        eventType: 'WorkflowTaskStarted',
        attributes: { scheduledEventId: 2, identity: 'worker-a' },
      },
    ]);
    const row = run.workflowTaskRow!;
    assert.equal(row.state, 'claimed');
    assert.equal(row.claimToken, claim.claimToken);
    assert.equal(row.claimedBy, 'worker-a');
    assert.equal(row.expiresAt, T0 + 250 + 10_000);
  });

  test('a task already held, or a closed run, cannot be claimed', () => {
    const run = new Run();
    run.claimWorkflowTask();
    const again = run.step((m) => claimWorkflowTask(m, run.workflowTaskRow!, 'other', 9));
    assert.equal(again, undefined);

    const closed = new Run();
    closed.runWorkflowTask([completeWorkflow()]);
    const row = { ...run.workflowTaskRow!, runId: RUN_ID };
    assert.equal(
      closed.step((m) => claimWorkflowTask(m, row, 'w', 1)),
      undefined,
    );
  });
});

describe('completeWorkflowTask', () => {
  test('writes Started, Completed and one event per command, with contiguous ids', () => {
    const run = new Run();
    const { claim } = run.claimWorkflowTask('w1', 100);
    run.completeWorkflowTask(claim, [scheduleActivity('a1'), startTimer('t1', 5000)], 400, [1, 3]);
    const events = run.last.events;
    assert.deepEqual(types(events), [
      'WorkflowTaskStarted',
      'WorkflowTaskCompleted',
      'ActivityTaskScheduled',
      'TimerStarted',
    ]);
    assert.deepEqual(
      events.map((e) => e.eventId),
      [3, 4, 5, 6],
    );
    assert.deepEqual(events[0]!.attributes, { scheduledEventId: 2, identity: 'w1' });
    assert.deepEqual(events[1]!.attributes, {
      scheduledEventId: 2,
      startedEventId: 3,
      identity: 'wf-worker',
      flags: [1, 3],
    });
    const scheduled = run.eventsOf('ActivityTaskScheduled')[0]!;
    assert.equal(scheduled.attributes.workflowTaskCompletedEventId, 4);
    assert.equal(scheduled.attributes.activityId, 'a1');
    assert.deepEqual(run.eventsOf('TimerStarted')[0]!.attributes, {
      timerId: 't1',
      startToFireTimeout: 5000,
      workflowTaskCompletedEventId: 4,
    });

    assert.equal(run.state.nextEventId, 7);
    assert.equal(run.state.lastCompletedStartedEventId, 3);
    assert.equal(run.state.workflowTask, undefined);
    assert.deepEqual(run.state.activities, { a1: { scheduledEventId: 5, activityType: 'charge' } });
    assert.deepEqual(run.state.timers, { t1: { startedEventId: 6 } });

    // The workflow task is gone; an activity task and a timer task exist.
    assert.equal(run.workflowTaskRow, undefined);
    const activity = run.tasks.get(taskKey.activity(RUN_ID, 5));
    assert.equal(activity?.state, 'ready');
    assert.equal(activity?.taskQueue, 'main');
    assert.equal(activity?.kind, 'activity');
    const timer = run.tasks.get(taskKey.timer(RUN_ID, 't1'));
    assert.equal(timer?.state, 'waiting');
    assert.equal(timer?.expiresAt, run.now + 5000);
  });

  test('no flags means no flags attribute', () => {
    const run = new Run();
    run.runWorkflowTask([]);
    const completed = run.eventsOf('WorkflowTaskCompleted')[0]!;
    assert.equal('flags' in completed.attributes, false);
  });

  test(
    'WorkflowTaskStarted carries the time of the claim, as the worker saw it, not the completion time',
    {},
    () => {
      const run = new Run();
      const { claim, start } = run.claimWorkflowTask('w1', 100);
      run.completeWorkflowTask(claim, [], 900);
      const started = run.eventsOf('WorkflowTaskStarted')[0]!;
      assert.equal(start.startedTime, T0 + 100);
      assert.equal(started.eventTime, start.transientEvents[0]!.eventTime);
      assert.equal(started.eventTime, T0 + 100);
    },
  );

  test('event ids stay contiguous across a whole run', () => {
    const run = new Run();
    run.runWorkflowTask([scheduleActivity('a1'), startTimer('t1', 1000)]);
    let claim = run.claimActivity('a1', 'aw', 10);
    run.step((m) => completeActivityTask(m, run.activityRow('a1'), claim, 'ok', 'aw'));
    const wt = run.claimWorkflowTask();
    run.step((m) => fireTimer(m, run.timerRow('t1')), 1000);
    run.completeWorkflowTask(wt.claim, [scheduleActivity('a2')]);
    claim = run.claimActivity('a2');
    run.step((m) =>
      failActivityTask(
        m,
        run.activityRow('a2'),
        claim,
        appFailure('x', 'E', { nonRetryable: true }),
        'aw',
      ),
    );
    run.step((m) => requestCancelWorkflow(m, 'me'));
    const failing = run.claimWorkflowTask();
    run.step((m) =>
      failWorkflowTask(
        m,
        run.workflowTaskRow,
        failing.claim,
        'WorkflowWorkerUnhandledFailure',
        appFailure('bug'),
        'w',
      ),
    );
    run.readyWorkflowTask();
    run.runWorkflowTask([completeWorkflow('done')]);

    assert.deepEqual(
      run.history.map((e) => e.eventId),
      run.history.map((_, i) => i + 1),
    );
    assert.equal(run.state.nextEventId, run.history.length + 1);
    assert.equal(run.lastEvent.eventType, 'WorkflowExecutionCompleted');
    assert.equal(run.state.status, 'Completed');
  });

  test('events arriving while the task is held are buffered and written after the command events, then a new task is scheduled', () => {
    const run = new Run();
    run.runWorkflowTask([scheduleActivity('a1'), scheduleActivity('a2'), startTimer('t1', 1000)]);
    // a1 completes while no workflow task is outstanding: written at once, with a new workflow task.
    const c1 = run.claimActivity('a1', 'aw1');
    run.step((m) => completeActivityTask(m, run.activityRow('a1'), c1, 'r1', 'aw1'), 5);
    assert.deepEqual(types(run.last.events), [
      'ActivityTaskStarted',
      'ActivityTaskCompleted',
      'WorkflowTaskScheduled',
    ]);
    const held = run.claimWorkflowTask('w2');
    const historyLength = run.history.length;

    // a2 completes and t1 fires while the task is held: nothing is written.
    const c2 = run.claimActivity('a2', 'aw2');
    run.step((m) => completeActivityTask(m, run.activityRow('a2'), c2, 'r2', 'aw2'), 5);
    assert.equal(run.last.events.length, 0);
    assert.deepEqual(run.last.tasks, [{ op: 'delete', key: taskKey.activity(RUN_ID, 6) }]);
    run.step((m) => fireTimer(m, run.timerRow('t1')), 1000);
    assert.equal(run.last.events.length, 0);
    assert.equal(run.history.length, historyLength);
    assert.deepEqual(types(run.state.bufferedEvents), [
      'ActivityTaskStarted',
      'ActivityTaskCompleted',
      'TimerFired',
    ]);
    // Kept, marked, until the buffer is flushed: the held task may still cancel them.
    assert.equal(run.state.activities.a2?.outcomeBuffered, true);
    assert.equal(run.state.timers.t1?.firedBuffered, true);

    run.completeWorkflowTask(held.claim, [startTimer('t2')]);
    assert.equal(run.state.activities.a2, undefined);
    assert.equal(run.state.timers.t1, undefined);
    assert.deepEqual(types(run.last.events), [
      'WorkflowTaskStarted',
      'WorkflowTaskCompleted',
      'TimerStarted',
      'ActivityTaskStarted',
      'ActivityTaskCompleted',
      'TimerFired',
      'WorkflowTaskScheduled',
    ]);
    const [, , , aStarted, aCompleted, fired, scheduled] = run.last.events;
    assert.deepEqual(aStarted!.attributes, { scheduledEventId: 6, identity: 'aw2', attempt: 1 });
    assert.deepEqual(aCompleted!.attributes, {
      scheduledEventId: 6,
      startedEventId: aStarted!.eventId,
      identity: 'aw2',
      result: 'r2',
    });
    assert.deepEqual(fired!.attributes, { timerId: 't1', startedEventId: 7 });
    assert.deepEqual(scheduled!.attributes, {
      taskQueue: 'main',
      startToCloseTimeout: 10_000,
      attempt: 1,
    });
    assert.deepEqual(run.state.bufferedEvents, []);
    assert.equal(run.state.workflowTask?.scheduledEventId, scheduled!.eventId);
    assert.equal(run.workflowTaskRow?.state, 'ready');
  });

  test('buffered outcomes of several activities each link to their own ActivityTaskStarted', () => {
    const run = new Run();
    run.runWorkflowTask([scheduleActivity('a1'), scheduleActivity('a2'), scheduleActivity('a3')]);
    const claims = ['a1', 'a2', 'a3'].map((id) => run.claimActivity(id, `w-${id}`));
    run.step((m) => requestCancelWorkflow(m));
    const held = run.claimWorkflowTask();
    run.step((m) => completeActivityTask(m, run.activityRow('a2'), claims[1]!, 2, 'w-a2'));
    run.step((m) =>
      failActivityTask(
        m,
        run.activityRow('a3'),
        claims[2]!,
        appFailure('no', 'E', { nonRetryable: true }),
        'w-a3',
      ),
    );
    run.step((m) => completeActivityTask(m, run.activityRow('a1'), claims[0]!, 1, 'w-a1'));
    run.completeWorkflowTask(held.claim, []);
    const flushed = run.last.events.slice(2);
    assert.deepEqual(types(flushed), [
      'ActivityTaskStarted',
      'ActivityTaskCompleted',
      'ActivityTaskStarted',
      'ActivityTaskFailed',
      'ActivityTaskStarted',
      'ActivityTaskCompleted',
      'WorkflowTaskScheduled',
    ]);
    for (let i = 0; i < 6; i += 2) {
      const started = flushed[i]!;
      const outcome = flushed[i + 1]!;
      const s = started.attributes as { scheduledEventId: number };
      const o = outcome.attributes as { scheduledEventId: number; startedEventId: number };
      assert.equal(
        o.startedEventId,
        started.eventId,
        `outcome ${outcome.eventId} links to ${started.eventId}`,
      );
      assert.equal(o.scheduledEventId, s.scheduledEventId);
    }
    assert.equal(
      (flushed[3]!.attributes as { retryState: string }).retryState,
      'NON_RETRYABLE_FAILURE',
    );
  });

  test('a terminal command closes the run: no new task, all tasks deleted', () => {
    const run = new Run();
    run.runWorkflowTask([scheduleActivity('a1'), startTimer('t1')]);
    run.step((m) => requestCancelWorkflow(m));
    run.runWorkflowTask([completeWorkflow({ total: 3 })]);
    const completed = run.eventsOf('WorkflowExecutionCompleted')[0]!;
    assert.deepEqual(completed.attributes, {
      result: { total: 3 },
      workflowTaskCompletedEventId: completed.eventId - 1,
    });
    assert.equal(run.state.status, 'Completed');
    assert.equal(run.state.closeTime, run.now);
    assert.equal(run.last.closed, true);
    assert.deepEqual(run.last.tasks.at(-1), { op: 'delete-run', runId: RUN_ID });
    assert.equal(run.tasks.size, 0);
    assert.deepEqual(run.state.activities, {});
    assert.deepEqual(run.state.timers, {});
    assert.equal(run.state.workflowTask, undefined);
  });

  test('closing over events the code has not seen is refused (UnhandledCommand): the next task sees them', () => {
    const run = new Run();
    run.runWorkflowTask([scheduleActivity('a1'), startTimer('t1')]);
    run.step((m) => requestCancelWorkflow(m));
    const held = run.claimWorkflowTask();
    run.step((m) => fireTimer(m, run.timerRow('t1')));
    assert.equal(run.state.bufferedEvents.length, 1);
    run.completeWorkflowTask(held.claim, [completeWorkflow({ total: 3 })]);
    assert.deepEqual(types(run.last.events), [
      'WorkflowTaskStarted',
      'WorkflowTaskFailed',
      'TimerFired',
      'WorkflowTaskScheduled',
    ]);
    assert.equal(run.eventsOf('WorkflowTaskFailed')[0]!.attributes.cause, 'UnhandledCommand');
    assert.equal(run.state.status, 'Running');
    assert.equal(run.workflowTaskRow?.state, 'ready');
    assert.equal(
      run.state.workflowTask?.attempt,
      1,
      'not a failure streak: no backoff, not transient',
    );
    run.runWorkflowTask([completeWorkflow({ total: 3 })]);
    assert.equal(run.state.status, 'Completed');
  });

  test('FailWorkflowExecution and CancelWorkflowExecution close the run with their status', () => {
    const failed = new Run();
    failed.runWorkflowTask([failWorkflow('kaput')]);
    const event = failed.eventsOf('WorkflowExecutionFailed')[0]!;
    assert.equal(event.attributes.failure.message, 'kaput');
    assert.equal(event.attributes.retryState, 'RETRY_POLICY_NOT_SET');
    assert.equal(event.attributes.workflowTaskCompletedEventId, 4);
    assert.equal(failed.state.status, 'Failed');

    const cancelled = new Run();
    cancelled.runWorkflowTask([
      { commandType: 'CancelWorkflowExecution', attributes: { details: ['why'] } },
    ]);
    assert.deepEqual(cancelled.lastEvent.attributes, {
      details: ['why'],
      workflowTaskCompletedEventId: 4,
    });
    assert.equal(cancelled.state.status, 'Canceled');
    assert.equal(cancelled.tasks.size, 0);
  });

  test('CancelTimer writes TimerCanceled linked to its TimerStarted and deletes the timer task', () => {
    const run = new Run();
    run.runWorkflowTask([startTimer('t1')]);
    run.step((m) => requestCancelWorkflow(m));
    run.runWorkflowTask([cancelTimer('t1')]);
    assert.deepEqual(types(run.last.events), [
      'WorkflowTaskStarted',
      'WorkflowTaskCompleted',
      'TimerCanceled',
    ]);
    assert.deepEqual(run.lastEvent.attributes, {
      timerId: 't1',
      startedEventId: 5,
      workflowTaskCompletedEventId: run.lastEvent.eventId - 1,
    });
    assert.equal(run.tasks.has(taskKey.timer(RUN_ID, 't1')), false);
    assert.deepEqual(run.state.timers, {});
    // A timer task that fires late (its row was read before the cancel) changes nothing.
    const stale = {
      key: taskKey.timer(RUN_ID, 't1'),
      kind: 'timer' as const,
      runId: RUN_ID,
      state: TaskState.Waiting,
      claimToken: 0,
      data: { timerId: 't1' },
    };
    run.step((m) => fireTimer(m, stale));
    assert.deepEqual(run.last.events, []);
    assert.deepEqual(run.last.tasks, [{ op: 'delete', key: stale.key }]);
  });
});

describe('bad commands', () => {
  function heldRun(): { run: Run; claim: { key: string; claimToken: number } } {
    const run = new Run();
    run.runWorkflowTask([scheduleActivity('a1'), startTimer('t1')]);
    run.step((m) => requestCancelWorkflow(m));
    const { claim } = run.claimWorkflowTask();
    return { run, claim };
  }

  const cases: { name: string; commands: Command[]; message: RegExp }[] = [
    {
      name: 'an activity id already used by a pending activity',
      commands: [startTimer('t2'), scheduleActivity('a1')],
      message: /command 2 \(ScheduleActivityTask\).*'a1' is already in use/,
    },
    {
      name: 'the same new activity id twice',
      commands: [scheduleActivity('b'), scheduleActivity('b')],
      message: /command 2 .*'b'/,
    },
    {
      name: 'a terminal command that is not last',
      commands: [completeWorkflow(1), startTimer('t2')],
      message: /command 1 \(CompleteWorkflowExecution\) closes the workflow but is not the last/,
    },
    {
      name: 'a cancel of an unknown timer',
      commands: [startTimer('t2'), cancelTimer('nope')],
      message: /command 2 \(CancelTimer\): no pending timer has id 'nope'/,
    },
    {
      name: 'a cancel of an unknown activity',
      commands: [requestCancelActivity('zz')],
      message: /no pending activity has id 'zz'/,
    },
    {
      name: 'a timer id already in use',
      commands: [startTimer('t1')],
      message: /timer id 't1' is already in use/,
    },
    {
      name: 'a timer of 0 ms',
      commands: [startTimer('t9', 0)],
      message: /startToFireTimeout must be greater than 0/,
    },
    {
      name: 'an activity without a type',
      commands: [scheduleActivity('a9', { activityType: '' })],
      message: /needs an activityId, an activityType and a taskQueue/,
    },
    {
      name: 'an activity with a NaN start-to-close timeout',
      commands: [scheduleActivity('a9', { startToCloseTimeout: Number.NaN })],
      message: /startToCloseTimeout must be greater than 0/,
    },
    {
      name: 'an unknown command type',
      commands: [{ commandType: 'SignalExternal', attributes: {} } as unknown as Command],
      message: /unknown command type/,
    },
  ];

  for (const { name, commands, message } of cases) {
    test(`${name} throws BadCommandError and changes nothing`, () => {
      const { run, claim } = heldRun();
      const before = structuredClone(run.state);
      const m = new Mutation(run.state, run.now + 10);
      assert.throws(
        () => completeWorkflowTask(m, run.workflowTaskRow, claim, commands, 'w', [], run.tasks),
        (error: unknown) => error instanceof BadCommandError && message.test(error.message),
      );
      assert.deepEqual(m.events, []);
      assert.deepEqual(m.tasks, []);
      assert.deepEqual(run.state, before);
    });
  }

  test('the caller then fails the task with cause BadCommand; the task is retried', () => {
    const { run, claim } = heldRun();
    const m = new Mutation(structuredClone(run.state), run.now);
    try {
      completeWorkflowTask(m, run.workflowTaskRow, claim, [cancelTimer('x')], 'w', []);
      assert.fail('expected BadCommandError');
    } catch (error) {
      assert.ok(error instanceof BadCommandError);
      run.step((m2) =>
        failWorkflowTask(
          m2,
          run.workflowTaskRow,
          claim,
          'BadCommand',
          { message: error.message },
          'w',
        ),
      );
    }
    assert.deepEqual(types(run.last.events), ['WorkflowTaskStarted', 'WorkflowTaskFailed']);
    assert.equal((run.lastEvent.attributes as { cause: string }).cause, 'BadCommand');
    assert.equal(run.state.workflowTask?.attempt, 2);
  });

  test(
    'cancelling the same timer twice in one task is a BadCommandError, not a crash half-way',
    {},
    () => {
      const { run, claim } = heldRun();
      const m = new Mutation(structuredClone(run.state), run.now);
      assert.throws(
        () =>
          completeWorkflowTask(
            m,
            run.workflowTaskRow,
            claim,
            [cancelTimer('t1'), cancelTimer('t1')],
            'w',
            [],
          ),
        BadCommandError,
      );
      assert.deepEqual(m.events, []);
    },
  );

  test(
    'requesting cancellation of the same unstarted activity twice in one task is a BadCommandError',
    {},
    () => {
      const { run, claim } = heldRun();
      const m = new Mutation(structuredClone(run.state), run.now);
      assert.throws(
        () =>
          completeWorkflowTask(
            m,
            run.workflowTaskRow,
            claim,
            [requestCancelActivity('a1'), requestCancelActivity('a1')],
            'w',
            [],
            run.tasks,
          ),
        BadCommandError,
      );
      assert.deepEqual(m.events, []);
    },
  );

  test(
    'cancelling a timer whose TimerFired is buffered is accepted (as Temporal does), not a BadCommand',
    {},
    () => {
      const { run, claim } = heldRun();
      run.step((m) => fireTimer(m, run.timerRow('t1')));
      assert.doesNotThrow(() => run.completeWorkflowTask(claim, [cancelTimer('t1')]));
    },
  );

  test(
    'requesting cancellation of an activity whose completion is buffered is accepted, not a BadCommand',
    {},
    () => {
      const { run, claim } = heldRun();
      const c = run.claimActivity('a1');
      run.step((m) => completeActivityTask(m, run.activityRow('a1'), c, 'done', 'aw'));
      assert.doesNotThrow(() =>
        run.completeWorkflowTask(claim, [
          requestCancelActivity('a1'),
          { commandType: 'CancelWorkflowExecution', attributes: {} },
        ]),
      );
      assert.equal(run.eventsOf('ActivityTaskCompleted').length, 1);
    },
  );
});

describe('workflow task failures and retries', () => {
  test('attempt 1 writes Started and Failed; the retry waits a backoff and is transient', () => {
    const run = new Run();
    const first = run.claimWorkflowTask('w1', 100);
    run.step(
      (m) =>
        failWorkflowTask(
          m,
          run.workflowTaskRow,
          first.claim,
          'NonDeterministicError',
          appFailure('nd'),
          'w1',
        ),
      50,
    );
    assert.deepEqual(types(run.last.events), ['WorkflowTaskStarted', 'WorkflowTaskFailed']);
    assert.deepEqual(run.lastEvent.attributes, {
      scheduledEventId: 2,
      startedEventId: 3,
      cause: 'NonDeterministicError',
      failure: appFailure('nd'),
      identity: 'w1',
    });
    assert.equal(run.state.workflowTask?.attempt, 2);
    assert.equal(run.state.workflowTask.scheduledTime, run.now);
    assert.equal(run.state.workflowTask.started, undefined);
    assert.deepEqual(run.state.lastWorkflowTaskFailure, {
      cause: 'NonDeterministicError',
      message: 'nd',
      attempt: 1,
      time: run.now,
    });
    const row = run.workflowTaskRow!;
    assert.equal(row.state, 'waiting');
    assert.equal(row.expiresAt, run.now + workflowTaskRetryDelay(2));
    assert.equal(row.claimToken, 0);

    // Attempt 2: its Scheduled and Started events are only given to the worker.
    run.readyWorkflowTask();
    const second = run.claimWorkflowTask('w2', 300);
    assert.equal(run.last.events.length, 0);
    assert.equal(second.start.attempt, 2);
    assert.equal(second.start.scheduledEventId, 5);
    assert.equal(second.start.startedEventId, 6);
    assert.equal(second.start.previousStartedEventId, 0);
    assert.deepEqual(
      second.start.transientEvents.map((e) => [e.eventId, e.eventType, e.attributes]),
      [
        [
          5,
          'WorkflowTaskScheduled',
          { taskQueue: 'main', startToCloseTimeout: 10_000, attempt: 2 },
        ],
        [6, 'WorkflowTaskStarted', { scheduledEventId: 5, identity: 'w2' }],
      ],
    );
    assert.equal(second.start.transientEvents[0]!.eventTime, run.now - 300);

    // Failing attempt 2 writes nothing at all.
    const lengthBefore = run.history.length;
    run.step((m) =>
      failWorkflowTask(
        m,
        run.workflowTaskRow,
        second.claim,
        'WorkflowWorkerUnhandledFailure',
        appFailure('again'),
        'w2',
      ),
    );
    assert.equal(run.last.events.length, 0);
    assert.equal(run.history.length, lengthBefore);
    assert.equal(run.state.workflowTask?.attempt, 3);
    assert.equal(run.workflowTaskRow?.expiresAt, run.now + workflowTaskRetryDelay(3));
    assert.equal(run.state.lastWorkflowTaskFailure?.attempt, 2);
    assert.equal(run.state.lastWorkflowTaskFailure?.message, 'again');

    // Attempt 3 succeeds: now its Scheduled and Started are written, with the ids the worker was told.
    run.readyWorkflowTask();
    const third = run.claimWorkflowTask('w3');
    assert.equal(third.start.scheduledEventId, 5);
    run.completeWorkflowTask(third.claim, [startTimer('t1')]);
    assert.deepEqual(
      run.last.events.map((e) => [e.eventId, e.eventType]),
      [
        [5, 'WorkflowTaskScheduled'],
        [6, 'WorkflowTaskStarted'],
        [7, 'WorkflowTaskCompleted'],
        [8, 'TimerStarted'],
      ],
    );
    assert.deepEqual(run.last.events[0]!.attributes, {
      taskQueue: 'main',
      startToCloseTimeout: 10_000,
      attempt: 3,
    });
    assert.deepEqual(run.last.events[1]!.attributes, { scheduledEventId: 5, identity: 'w3' });
    assert.equal((run.last.events[2]!.attributes as { startedEventId: number }).startedEventId, 6);
    assert.equal(run.state.lastWorkflowTaskFailure, undefined);
    assert.equal(run.state.lastCompletedStartedEventId, 6);
  });

  test('the retry backoff grows and is capped at 10 s', () => {
    assert.deepEqual(
      [2, 3, 4, 5, 8, 9, 50].map(workflowTaskRetryDelay),
      [100, 200, 400, 800, 6400, 10_000, 10_000],
    );
  });

  test('a timeout of attempt 1 writes Started and TimedOut; of attempt 2, nothing', () => {
    const run = new Run();
    run.claimWorkflowTask('w1');
    run.step((m) => timeOutWorkflowTask(m), 10_000);
    assert.deepEqual(types(run.last.events), ['WorkflowTaskStarted', 'WorkflowTaskTimedOut']);
    assert.deepEqual(run.lastEvent.attributes, {
      scheduledEventId: 2,
      startedEventId: 3,
      timeoutType: 'START_TO_CLOSE',
    });
    assert.equal(run.state.lastWorkflowTaskFailure?.cause, 'TimedOut');
    assert.equal(run.state.workflowTask?.attempt, 2);
    assert.equal(run.workflowTaskRow?.state, 'waiting');

    run.readyWorkflowTask();
    run.claimWorkflowTask('w2');
    run.step((m) => timeOutWorkflowTask(m), 10_000);
    assert.deepEqual(run.last.events, []);
    assert.equal(run.state.workflowTask?.attempt, 3);
  });

  test('events buffered during a failed attempt are flushed after its failure', () => {
    const run = new Run();
    run.runWorkflowTask([startTimer('t1', 100)]);
    run.step((m) => requestCancelWorkflow(m));
    const held = run.claimWorkflowTask();
    run.step((m) => fireTimer(m, run.timerRow('t1')), 100);
    run.step((m) =>
      failWorkflowTask(
        m,
        run.workflowTaskRow,
        held.claim,
        'WorkflowWorkerUnhandledFailure',
        appFailure('x'),
        'w',
      ),
    );
    assert.deepEqual(types(run.last.events), [
      'WorkflowTaskStarted',
      'WorkflowTaskFailed',
      'TimerFired',
    ]);
    // The retry stays transient: no WorkflowTaskScheduled is written for it.
    assert.equal(run.state.workflowTask?.attempt, 2);
    assert.deepEqual(run.state.bufferedEvents, []);
  });

  test("a retry's Scheduled event, written after events that arrived while it waited, takes no earlier time than theirs", () => {
    const run = new Run();
    const first = run.claimWorkflowTask('w1');
    run.step((m) =>
      failWorkflowTask(
        m,
        run.workflowTaskRow,
        first.claim,
        'NonDeterministicError',
        appFailure('nd'),
        'w1',
      ),
    );
    const scheduledAt = run.now;
    run.step((m) => signalWorkflow(m, 'go', []), 200);
    assert.deepEqual(types(run.last.events), ['WorkflowExecutionSignaled']);
    run.readyWorkflowTask();
    const second = run.claimWorkflowTask('w2', 100);
    const [scheduled, started] = second.start.transientEvents;
    assert.equal(scheduled!.eventType, 'WorkflowTaskScheduled');
    assert.equal(scheduled!.eventTime, scheduledAt + 200);
    assert.equal(started!.eventTime, scheduledAt + 300);
    // Completing writes the times the worker was told.
    run.completeWorkflowTask(second.claim, []);
    const times = run.history.map((e) => e.eventTime);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );
    assert.equal(
      run.history.find((e) => e.eventId === scheduled!.eventId)?.eventTime,
      scheduledAt + 200,
    );
  });

  test('a stale claim is refused with TaskLostError: expired while the row exists, gone once deleted', () => {
    const run = new Run();
    const first = run.claimWorkflowTask('w1');
    const wrong = { ...first.claim, claimToken: first.claim.claimToken + 1 };
    const before = structuredClone(run.state);
    assert.throws(
      () => run.completeWorkflowTask(wrong, []),
      (e: unknown) => e instanceof TaskLostError && e.reason === 'expired',
    );
    assert.deepEqual(run.state, before);

    // The task times out and is claimed again by another worker: the first worker's claim is stale.
    run.step((m) => timeOutWorkflowTask(m), 10_000);
    assert.throws(
      () => run.completeWorkflowTask(first.claim, []),
      (e: unknown) => e instanceof TaskLostError && e.reason === 'expired',
    );
    run.readyWorkflowTask();
    assert.throws(
      () =>
        run.step((m) =>
          failWorkflowTask(
            m,
            run.workflowTaskRow,
            first.claim,
            'NonDeterministicError',
            appFailure('x'),
            'w1',
          ),
        ),
      (e: unknown) => e instanceof TaskLostError && e.reason === 'expired',
    );
    const second = run.claimWorkflowTask('w2');
    assert.throws(
      () => run.completeWorkflowTask(first.claim, []),
      (e: unknown) => e instanceof TaskLostError && e.reason === 'expired',
    );
    run.completeWorkflowTask(second.claim, [completeWorkflow()]);
    // The run closed: the task row is gone.
    assert.throws(
      () => run.completeWorkflowTask(second.claim, []),
      (e: unknown) =>
        e instanceof TaskLostError && e.reason === 'gone' && e.message.includes(second.claim.key),
    );
  });
});
