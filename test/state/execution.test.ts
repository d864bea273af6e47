import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TaskLostError } from '../../src/common/errors.ts';
import { completeActivityTask } from '../../src/state/activity-task.ts';
import { isRunning } from '../../src/state/execution-state.ts';
import {
  fireTimer,
  requestCancelWorkflow,
  terminateWorkflow,
  timeOutRun,
} from '../../src/state/execution.ts';
import { taskKey, type TaskRecord } from '../../src/state/tasks.ts';
import { RUN_ID, Run, completeWorkflow, scheduleActivity, startTimer, types } from './harness.ts';

function runTimeoutRow(run: Run): TaskRecord<'run-timeout'> {
  const task = run.tasks.get(taskKey.runTimeout(RUN_ID));
  if (!task || task.kind !== 'run-timeout') throw new Error('no run-timeout task');
  return task;
}

describe('requestCancelWorkflow', () => {
  test('appends WorkflowExecutionCancelRequested and schedules a workflow task; idempotent', () => {
    const run = new Run();
    run.runWorkflowTask([startTimer('t1')]);
    run.step((m) => requestCancelWorkflow(m, 'ops'));
    assert.deepEqual(
      run.last.events.map((e) => [e.eventType, e.attributes]),
      [
        ['WorkflowExecutionCancelRequested', { identity: 'ops' }],
        ['WorkflowTaskScheduled', { taskQueue: 'main', startToCloseTimeout: 10_000, attempt: 1 }],
      ],
    );
    assert.equal(run.state.cancelRequested, true);
    assert.equal(run.workflowTaskRow?.state, 'ready');

    run.step((m) => requestCancelWorkflow(m, 'ops'));
    assert.deepEqual(run.last.events, []);
    assert.deepEqual(run.last.tasks, []);
  });

  test('does not schedule a second workflow task when one is already outstanding', () => {
    const run = new Run();
    run.step((m) => requestCancelWorkflow(m));
    assert.deepEqual(types(run.last.events), ['WorkflowExecutionCancelRequested']);
    assert.deepEqual(run.last.events[0]?.attributes, {});
    assert.deepEqual(run.last.tasks, []);
    assert.equal(run.state.workflowTask?.scheduledEventId, 2);
  });

  test('is buffered while a workflow task is held', () => {
    const run = new Run();
    const held = run.claimWorkflowTask();
    run.step((m) => requestCancelWorkflow(m));
    assert.deepEqual(run.last.events, []);
    assert.deepEqual(types(run.state.bufferedEvents), ['WorkflowExecutionCancelRequested']);
    run.completeWorkflowTask(held.claim, [startTimer('t1')]);
    assert.deepEqual(types(run.last.events), [
      'WorkflowTaskStarted',
      'WorkflowTaskCompleted',
      'TimerStarted',
      'WorkflowExecutionCancelRequested',
      'WorkflowTaskScheduled',
    ]);
  });

  test('does nothing to a closed run', () => {
    const run = new Run();
    run.runWorkflowTask([completeWorkflow(1)]);
    run.step((m) => requestCancelWorkflow(m));
    assert.deepEqual(run.last.events, []);
    assert.equal(run.state.cancelRequested, false);
  });
});

describe('fireTimer', () => {
  test('deletes the timer task and delivers TimerFired linked to TimerStarted', () => {
    const run = new Run();
    run.runWorkflowTask([startTimer('t1', 500), startTimer('t2', 900)]);
    const row = run.timerRow('t2');
    assert.equal(row.expiresAt, run.now + 900);
    run.step((m) => fireTimer(m, row), 900);
    assert.deepEqual(
      run.last.events.map((e) => [e.eventType, e.attributes]),
      [
        ['TimerFired', { timerId: 't2', startedEventId: 6 }],
        ['WorkflowTaskScheduled', { taskQueue: 'main', startToCloseTimeout: 10_000, attempt: 1 }],
      ],
    );
    assert.equal(run.last.tasks[0]?.op, 'delete');
    assert.deepEqual(Object.keys(run.state.timers), ['t1']);
  });
});

describe('terminateWorkflow', () => {
  test('flushes buffered events, appends Terminated, closes the run and deletes all its tasks', () => {
    const run = new Run({ workflowRunTimeout: 3_600_000 });
    run.runWorkflowTask([scheduleActivity('a1'), scheduleActivity('a2'), startTimer('t1')]);
    const c1 = run.claimActivity('a1');
    run.step((m) => requestCancelWorkflow(m));
    const held = run.claimWorkflowTask();
    run.step((m) => completeActivityTask(m, run.activityRow('a1'), c1, 'r', 'aw'));
    assert.equal(run.state.bufferedEvents.length, 2);

    run.step((m) => terminateWorkflow(m, 'bad deploy', 'admin'), 10);
    assert.deepEqual(types(run.last.events), [
      'ActivityTaskStarted',
      'ActivityTaskCompleted',
      'WorkflowExecutionTerminated',
    ]);
    const [started, completed, terminated] = run.last.events;
    assert.equal(
      (completed!.attributes as { startedEventId: number }).startedEventId,
      started!.eventId,
    );
    assert.deepEqual(terminated!.attributes, { reason: 'bad deploy', identity: 'admin' });
    assert.equal(run.state.status, 'Terminated');
    assert.equal(run.state.closeTime, run.now);
    assert.equal(isRunning(run.state), false);
    assert.equal(run.last.closed, true);
    assert.deepEqual(run.last.tasks, [{ op: 'delete-run', runId: RUN_ID }]);
    assert.equal(run.tasks.size, 0, 'activity, timer, workflow and run-timeout tasks are gone');
    assert.deepEqual(run.state.activities, {});
    assert.deepEqual(run.state.timers, {});
    assert.equal(run.state.workflowTask, undefined);

    // The worker holding the workflow task finds it gone.
    assert.throws(
      () => run.completeWorkflowTask(held.claim, []),
      (e: unknown) => e instanceof TaskLostError && e.reason === 'gone',
    );
    // Terminating again changes nothing.
    run.step((m) => terminateWorkflow(m, 'again'));
    assert.deepEqual(run.last.events, []);
    assert.deepEqual(run.last.tasks, []);
  });

  test('leaves out reason and identity when not given', () => {
    const run = new Run();
    run.step((m) => terminateWorkflow(m, undefined));
    assert.deepEqual(run.lastEvent.attributes, {});
    assert.equal(run.lastEvent.eventId, 3);
  });
});

describe('timeOutRun', () => {
  test('appends WorkflowExecutionTimedOut and closes the run', () => {
    const run = new Run({ workflowRunTimeout: 60_000 });
    run.runWorkflowTask([scheduleActivity('a1')]);
    const row = runTimeoutRow(run);
    run.step((m) => timeOutRun(m, row), row.expiresAt! - run.now);
    assert.deepEqual(
      run.last.events.map((e) => [e.eventType, e.attributes]),
      [['WorkflowExecutionTimedOut', { retryState: 'TIMEOUT', timeoutType: 'RUN' }]],
    );
    assert.deepEqual(run.last.tasks, [
      { op: 'delete', key: row.key },
      { op: 'delete-run', runId: RUN_ID },
    ]);
    assert.equal(run.state.status, 'TimedOut');
    assert.equal(run.tasks.size, 0);
  });

  test('records which timeout fired', () => {
    const run = new Run({ workflowRunTimeout: 60_000, workflowExecutionTimeout: 20_000 });
    run.step((m) => timeOutRun(m, runTimeoutRow(run)));
    assert.deepEqual(run.lastEvent.attributes, { retryState: 'TIMEOUT', timeoutType: 'EXECUTION' });
  });

  test('a run-timeout task of a run that already closed only deletes itself', () => {
    const run = new Run({ workflowRunTimeout: 60_000 });
    const row = runTimeoutRow(run);
    run.runWorkflowTask([completeWorkflow()]);
    run.step((m) => timeOutRun(m, row));
    assert.deepEqual(run.last.events, []);
    assert.deepEqual(run.last.tasks, [{ op: 'delete', key: row.key }]);
    assert.equal(run.state.status, 'Completed');
  });
});
