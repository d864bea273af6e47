/** Sticky queues: a run's next workflow task goes first to the worker that has the run cached. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fireTimer } from '../../src/state/execution.ts';
import type { StickyQueue } from '../../src/state/execution-state.ts';
import { completeWorkflowTask, failWorkflowTask, unstick } from '../../src/state/workflow-task.ts';
import { Run, appFailure, startTimer } from './harness.ts';

const sticky: StickyQueue = { name: 'main/sticky/w1', scheduleToStartTimeout: 5_000 };

/** A run whose first task was completed by a worker with `queue`, waiting on timer t1. */
function runWithTimer(queue?: StickyQueue): Run {
  const run = new Run();
  const { claim } = run.claimWorkflowTask();
  run.step((m) =>
    completeWorkflowTask(
      m,
      run.workflowTaskRow,
      claim,
      [startTimer('t1', 1_000)],
      'w1',
      [],
      run.tasks,
      queue,
    ),
  );
  return run;
}

test("a sticky run's next task waits on the worker's queue until the sticky timeout; the history names the run's queue", () => {
  const run = runWithTimer(sticky);
  assert.deepEqual(run.state.sticky, sticky);
  run.step((m) => fireTimer(m, run.timerRow('t1')), 1_000);
  const row = run.workflowTaskRow!;
  assert.equal(row.taskQueue, sticky.name);
  assert.equal(row.state, 'ready');
  assert.equal(row.expiresAt, run.now + sticky.scheduleToStartTimeout);
  // Stickiness is dispatch only: a replay sees the same events with or without it.
  assert.deepEqual(run.history.at(-1)!, {
    eventId: run.state.workflowTask!.scheduledEventId,
    eventTime: run.now,
    eventType: 'WorkflowTaskScheduled',
    attributes: { taskQueue: 'main', startToCloseTimeout: 10_000, attempt: 1 },
  });
});

test('unstick moves a waiting task to the run queue for any worker, and later tasks go there too', () => {
  const run = runWithTimer(sticky);
  run.step((m) => fireTimer(m, run.timerRow('t1')), 1_000);
  run.step((m) => unstick(m, run.workflowTaskRow), 5_000);
  const row = run.workflowTaskRow!;
  assert.equal(row.taskQueue, 'main');
  assert.equal(row.expiresAt, undefined);
  assert.equal(run.state.sticky, undefined);
  // Completed by a worker without a sticky queue: the next task goes to the run's queue.
  const { claim } = run.claimWorkflowTask();
  run.step((m) =>
    completeWorkflowTask(
      m,
      run.workflowTaskRow,
      claim,
      [startTimer('t2', 1_000)],
      'w2',
      [],
      run.tasks,
    ),
  );
  run.step((m) => fireTimer(m, run.timerRow('t2')), 1_000);
  assert.equal(run.workflowTaskRow!.taskQueue, 'main');
});

test('unstick of a run with no task waiting only ends its stickiness', () => {
  const run = runWithTimer(sticky);
  run.step((m) => unstick(m));
  assert.equal(run.state.sticky, undefined);
  run.step((m) => fireTimer(m, run.timerRow('t1')), 1_000);
  assert.equal(run.workflowTaskRow!.taskQueue, 'main');
});

test('a failed workflow task ends stickiness: its retry is for any worker', () => {
  const run = runWithTimer(sticky);
  run.step((m) => fireTimer(m, run.timerRow('t1')), 1_000);
  const { claim } = run.claimWorkflowTask('w1');
  run.step((m) =>
    failWorkflowTask(
      m,
      run.workflowTaskRow,
      claim,
      'WorkflowWorkerUnhandledFailure',
      appFailure('bug'),
      'w1',
    ),
  );
  assert.equal(run.state.sticky, undefined);
  assert.equal(run.workflowTaskRow!.taskQueue, 'main');
});
