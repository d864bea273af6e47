/**
 * Transitions of a run as a whole: start (including a continued or retried run, and a child),
 * cancellation request, termination, timers and the run's own timeout.
 */
import type { FailureInfo } from '../common/failure-converter.ts';
import { RetryState } from '../common/failure.ts';
import type { CompiledRetryPolicy } from '../common/retry-policy.ts';
import { closeRun } from './close-run.ts';
import type { ParentClosePolicy, ParentInfo } from './events.ts';
import { ExecutionStatus, isRunning, type ExecutionState } from './execution-state.ts';
import { Mutation } from './mutation.ts';
import { decideRetry } from './retry.ts';
import { applySearchAttributes } from './search-attributes.ts';
import type { SearchAttributeValues } from './search-attributes.ts';
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
  /** Carried along a chain of runs; the new run's own id otherwise. */
  firstExecutionRunId?: string;
  attempt?: number;
  retryPolicy?: CompiledRetryPolicy;
  /** Deadline of the whole execution; computed from `workflowExecutionTimeout` for a first run. */
  workflowExecutionExpirationTime?: number;
  parent?: ParentInfo;
  parentClosePolicy?: ParentClosePolicy;
  continuedExecutionRunId?: string;
  initiator?: 'ContinueAsNew' | 'Retry';
  continuedFailure?: FailureInfo;
  /** Delay before the first workflow task (a retry's backoff). */
  firstWorkflowTaskBackoff?: number;
  memo?: Record<string, unknown>;
  searchAttributes?: SearchAttributeValues;
  /** Signal-with-start: the signal recorded right after WorkflowExecutionStarted, before the first task. */
  signal?: { name: string; args: unknown[] };
}

/** A new run: WorkflowExecutionStarted, its first workflow task, and its timeout if any. */
export function startWorkflow(
  input: StartWorkflowInput,
  now: number,
  newRunId?: () => string,
): Mutation {
  const expiration =
    input.workflowExecutionExpirationTime ??
    (input.workflowExecutionTimeout ? now + input.workflowExecutionTimeout : undefined);
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
    firstExecutionRunId: input.firstExecutionRunId ?? input.runId,
    attempt: input.attempt ?? 1,
    ...(input.retryPolicy ? { retryPolicy: input.retryPolicy, input: input.input } : {}),
    ...(expiration !== undefined ? { executionExpirationTime: expiration } : {}),
    ...(input.workflowRunTimeout ? { workflowRunTimeout: input.workflowRunTimeout } : {}),
    ...(input.parent
      ? { parent: input.parent, parentClosePolicy: input.parentClosePolicy ?? 'TERMINATE' }
      : {}),
    ...(input.memo ? { memo: stripNulls(input.memo) } : {}),
  };
  if (input.searchAttributes) applySearchAttributes(state, input.searchAttributes);
  const m = new Mutation(state, now, newRunId);
  m.searchAttributesChanged = input.searchAttributes !== undefined;
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
    firstExecutionRunId: state.firstExecutionRunId!,
    attempt: state.attempt!,
    ...(input.identity ? { identity: input.identity } : {}),
    ...(input.parent ? { parent: input.parent, parentClosePolicy: state.parentClosePolicy! } : {}),
    ...(input.continuedExecutionRunId
      ? { continuedExecutionRunId: input.continuedExecutionRunId }
      : {}),
    ...(input.initiator ? { initiator: input.initiator } : {}),
    ...(input.continuedFailure ? { continuedFailure: input.continuedFailure } : {}),
    ...(expiration !== undefined ? { workflowExecutionExpirationTime: expiration } : {}),
    ...(input.retryPolicy ? { retryPolicy: input.retryPolicy } : {}),
    ...(input.firstWorkflowTaskBackoff
      ? { firstWorkflowTaskBackoff: input.firstWorkflowTaskBackoff }
      : {}),
    ...(input.memo ? { memo: input.memo } : {}),
    ...(input.searchAttributes ? { searchAttributes: input.searchAttributes } : {}),
  });
  if (input.signal) {
    m.append('WorkflowExecutionSignaled', {
      signalName: input.signal.name,
      input: input.signal.args,
      ...(input.identity ? { identity: input.identity } : {}),
    });
  }
  m.scheduleWorkflowTask(1, input.firstWorkflowTaskBackoff ?? 0);
  const runDeadline = input.workflowRunTimeout ? now + input.workflowRunTimeout : undefined;
  if (runDeadline !== undefined || expiration !== undefined) {
    // The run ends at whichever comes first: its own timeout or the execution's deadline.
    const useRun =
      runDeadline !== undefined && (expiration === undefined || runDeadline <= expiration);
    m.put({
      key: taskKey.runTimeout(state.runId),
      kind: TaskKind.RunTimeout,
      runId: state.runId,
      state: TaskState.Waiting,
      expiresAt: useRun ? runDeadline : expiration!,
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
  closeRun(m, ExecutionStatus.Terminated, {
    eventType: 'ChildWorkflowExecutionTerminated',
    attributes: reason ? { reason } : {},
  });
}

export function fireTimer(m: Mutation, task: TaskRecord<'timer'>): void {
  const { timerId } = task.data;
  const timer = m.state.timers[timerId];
  m.delete(task.key);
  if (!isRunning(m.state) || !timer || timer.firedBuffered) return;
  if (m.state.workflowTask?.started) timer.firedBuffered = true;
  else delete m.state.timers[timerId];
  m.deliver({
    eventType: 'TimerFired',
    attributes: { timerId, startedEventId: timer.startedEventId },
  });
}

/** The run (or the whole execution) ran out of time: retried by the workflow's retry policy if it has one, else closed. */
export function timeOutRun(m: Mutation, task: TaskRecord<'run-timeout'>): void {
  m.delete(task.key);
  const { state } = m;
  if (!isRunning(state)) return;
  m.flushBuffered();
  const { timeoutType } = task.data;
  // Only a run timeout can be retried: past the execution deadline there is no time left.
  const retry =
    timeoutType === 'RUN' && state.retryPolicy
      ? decideRetry(
          state.retryPolicy,
          state.attempt ?? 1,
          undefined,
          m.now,
          state.executionExpirationTime,
        )
      : undefined;
  if (retry?.retry) {
    const newRunId = m.newRunId();
    m.append('WorkflowExecutionTimedOut', {
      retryState: RetryState.IN_PROGRESS,
      timeoutType,
      newExecutionRunId: newRunId,
    });
    closeRun(m, ExecutionStatus.TimedOut);
    continueChain(m, newRunId, 'Retry', retry.delay, {}, state.input);
    return;
  }
  m.append('WorkflowExecutionTimedOut', {
    retryState: retry ? retry.retryState : RetryState.TIMEOUT,
    timeoutType,
  });
  closeRun(m, ExecutionStatus.TimedOut, {
    eventType: 'ChildWorkflowExecutionTimedOut',
    attributes: { retryState: RetryState.TIMEOUT },
  });
}

/**
 * Starts the next run of the chain (continue-as-new or a retry): same workflow id, same first run,
 * same parent and deadline; `overrides` carry what the command changed.
 */
export function continueChain(
  m: Mutation,
  newRunId: string,
  initiator: 'ContinueAsNew' | 'Retry',
  backoff: number,
  overrides: Partial<
    Pick<
      StartWorkflowInput,
      | 'workflowType'
      | 'taskQueue'
      | 'input'
      | 'workflowRunTimeout'
      | 'workflowTaskTimeout'
      | 'memo'
      | 'searchAttributes'
      | 'continuedFailure'
    >
  > = {},
  previousInput: unknown[] = [],
): void {
  const { state } = m;
  state.newExecutionRunId = newRunId;
  const searchAttributes = overrides.searchAttributes ?? state.searchAttributes;
  m.effects.push({
    type: 'start-run',
    backoff,
    input: {
      workflowId: state.workflowId,
      runId: newRunId,
      workflowType: overrides.workflowType ?? state.workflowType,
      taskQueue: overrides.taskQueue ?? state.taskQueue,
      input: overrides.input ?? previousInput,
      ...((overrides.workflowRunTimeout ?? state.workflowRunTimeout)
        ? { workflowRunTimeout: overrides.workflowRunTimeout ?? state.workflowRunTimeout }
        : {}),
      workflowTaskTimeout: overrides.workflowTaskTimeout ?? state.workflowTaskTimeout,
      firstExecutionRunId: state.firstExecutionRunId ?? state.runId,
      attempt: initiator === 'Retry' ? (state.attempt ?? 1) + 1 : 1,
      ...(state.retryPolicy ? { retryPolicy: state.retryPolicy } : {}),
      ...(state.executionExpirationTime !== undefined
        ? { workflowExecutionExpirationTime: state.executionExpirationTime }
        : {}),
      ...(state.parent
        ? { parent: state.parent, parentClosePolicy: state.parentClosePolicy ?? 'TERMINATE' }
        : {}),
      continuedExecutionRunId: state.runId,
      initiator,
      ...(overrides.continuedFailure ? { continuedFailure: overrides.continuedFailure } : {}),
      ...(backoff > 0 ? { firstWorkflowTaskBackoff: backoff } : {}),
      ...((overrides.memo ?? state.memo) ? { memo: overrides.memo ?? state.memo } : {}),
      ...(searchAttributes && Object.keys(searchAttributes).length > 0 ? { searchAttributes } : {}),
    },
  });
}

function stripNulls(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).filter(([, v]) => v !== null && v !== undefined),
  );
}
