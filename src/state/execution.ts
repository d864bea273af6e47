/**
 * Transitions of a run as a whole: start, cancellation request, termination, timers and the run's
 * own timeout.
 */
import { RetryState } from '../common/failure.ts';
import { closeRun } from './close-run.ts';
import { ExecutionStatus, isRunning, type ExecutionState } from './execution-state.ts';
import { Mutation } from './mutation.ts';
import { TaskKind, TaskState, taskKey, type TaskRecord } from './tasks.ts';

export interface StartWorkflowInput {
  workflowId: string;
  runId: string;
  workflowType: string;
  taskQueue: string;
  input: unknown[];
  workflowExecutionTimeout?: number;
  workflowRunTimeout?: number;
  workflowTaskTimeout: number;
  identity?: string;
}

/** A new run: WorkflowExecutionStarted, its first workflow task, and its run timeout if any. */
export function startWorkflow(input: StartWorkflowInput, now: number): Mutation {
  const state: ExecutionState = {
    workflowId: input.workflowId,
    runId: input.runId,
    workflowType: input.workflowType,
    taskQueue: input.taskQueue,
    status: ExecutionStatus.Running,
    startTime: now,
    nextEventId: 1,
    workflowTaskTimeout: input.workflowTaskTimeout,
    lastCompletedStartedEventId: 0,
    bufferedEvents: [],
    activities: {},
    timers: {},
    cancelRequested: false,
  };
  const m = new Mutation(state, now);
  m.append('WorkflowExecutionStarted', {
    workflowType: input.workflowType,
    taskQueue: input.taskQueue,
    input: input.input,
    workflowId: input.workflowId,
    ...(input.workflowExecutionTimeout
      ? { workflowExecutionTimeout: input.workflowExecutionTimeout }
      : {}),
    ...(input.workflowRunTimeout ? { workflowRunTimeout: input.workflowRunTimeout } : {}),
    workflowTaskTimeout: input.workflowTaskTimeout,
    firstExecutionRunId: input.runId,
    attempt: 1,
    ...(input.identity ? { identity: input.identity } : {}),
  });
  m.scheduleWorkflowTask();
  const run = input.workflowRunTimeout;
  const execution = input.workflowExecutionTimeout;
  if (run || execution) {
    // The run ends at whichever comes first; a single run is the whole execution until continue-as-new exists.
    const useRun = run !== undefined && (execution === undefined || run <= execution);
    m.put({
      key: taskKey.runTimeout(state.runId),
      kind: TaskKind.RunTimeout,
      runId: state.runId,
      state: TaskState.Waiting,
      expiresAt: now + (useRun ? run : execution!),
      claimToken: 0,
      data: { timeoutType: useRun ? 'RUN' : 'EXECUTION' },
    });
  }
  return m;
}

/** `handle.cancel()`: the workflow sees a cancellation request at its next task. Idempotent. */
export function requestCancelWorkflow(m: Mutation, identity?: string): void {
  if (!isRunning(m.state) || m.state.cancelRequested) return;
  m.state.cancelRequested = true;
  m.deliver({
    eventType: 'WorkflowExecutionCancelRequested',
    attributes: identity ? { identity } : {},
  });
}

/** `handle.terminate()`: the run closes now; no code of it runs again. */
export function terminateWorkflow(
  m: Mutation,
  reason: string | undefined,
  identity?: string,
): void {
  if (!isRunning(m.state)) return;
  m.flushBuffered();
  m.append('WorkflowExecutionTerminated', {
    ...(reason ? { reason } : {}),
    ...(identity ? { identity } : {}),
  });
  closeRun(m, ExecutionStatus.Terminated);
}

export function fireTimer(m: Mutation, task: TaskRecord<'timer'>): void {
  const { timerId } = task.data;
  const timer = m.state.timers[timerId];
  m.delete(task.key);
  if (!isRunning(m.state) || !timer) return;
  delete m.state.timers[timerId];
  m.deliver({
    eventType: 'TimerFired',
    attributes: { timerId, startedEventId: timer.startedEventId },
  });
}

export function timeOutRun(m: Mutation, task: TaskRecord<'run-timeout'>): void {
  m.delete(task.key);
  if (!isRunning(m.state)) return;
  m.flushBuffered();
  m.append('WorkflowExecutionTimedOut', {
    retryState: RetryState.TIMEOUT,
    timeoutType: task.data.timeoutType,
  });
  closeRun(m, ExecutionStatus.TimedOut);
}
