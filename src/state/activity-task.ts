/**
 * Activity task transitions. An attempt's progress (claims, heartbeats, retries) lives in the task
 * row only; the run's history changes once, when the activity closes, with its ActivityTaskStarted
 * event (last attempt) and its outcome, as in Temporal. Retries therefore cost no history writes.
 */
import type { FailureInfo } from '../common/failure-converter.ts';
import { RetryState, TimeoutType } from '../common/failure.ts';
import {
  firedTimeout,
  readyExpiry,
  runningExpiry,
  scheduleToCloseDeadline,
} from './activity-deadlines.ts';
import { assertClaim, claimed } from './claims.ts';
import { isRunning } from './execution-state.ts';
import { STARTED_EVENT_ID_PENDING, type Mutation } from './mutation.ts';
import { decideRetry } from './retry.ts';
import { TaskState, type TaskClaim, type TaskRecord } from './tasks.ts';

type ActivityTask = TaskRecord<'activity'>;

/** Starts an attempt: the row is claimed until the earliest of its running deadlines. Touches no run state. */
export function claimActivityTask(
  task: ActivityTask,
  identity: string,
  now: number,
  claimToken: number,
): ActivityTask {
  const { lastHeartbeatTime: _previous, ...rest } = task.data;
  const data = { ...rest, startedTime: now };
  return { ...claimed(task, identity, runningExpiry(data), claimToken), data };
}

/** Records a heartbeat; returns the updated row. The caller tells the activity if cancellation was requested. */
export function heartbeatActivityTask(
  task: ActivityTask | undefined,
  claim: TaskClaim,
  details: unknown,
  now: number,
): ActivityTask {
  const held = assertClaim(task, claim);
  const data = {
    ...held.data,
    lastHeartbeatTime: now,
    ...(details !== undefined ? { heartbeatDetails: details } : {}),
  };
  return { ...held, data, expiresAt: runningExpiry(data) };
}

/** Writes the closing pair of events (Started for the last attempt, then the outcome) and removes the activity. */
function closeActivity(
  m: Mutation,
  task: ActivityTask,
  outcome: (scheduledEventId: number, startedEventId: number) => void,
  started = true,
): void {
  const { state } = m;
  const { data } = task;
  m.delete(task.key);
  const pending = state.activities[data.activityId];
  if (!isRunning(state) || !pending || pending.outcomeBuffered) return;
  if (state.workflowTask?.started) pending.outcomeBuffered = true;
  else delete state.activities[data.activityId];
  // Started is only written for an attempt that really started; a schedule-to-start timeout has none.
  const startedEventId = started ? deliverStarted(m, task) : 0;
  outcome(data.scheduledEventId, startedEventId);
}

/** Started goes into the history (or the buffer) just before its outcome; returns the id it has or will have. */
function deliverStarted(m: Mutation, task: ActivityTask): number {
  const { data } = task;
  const attributes = {
    scheduledEventId: data.scheduledEventId,
    identity: task.claimedBy ?? '',
    attempt: data.attempt,
    ...(data.lastFailure ? { lastFailure: data.lastFailure } : {}),
  };
  const { state } = m;
  if (state.workflowTask?.started) {
    state.bufferedEvents.push({ eventType: 'ActivityTaskStarted', attributes });
    return STARTED_EVENT_ID_PENDING;
  }
  return m.append('ActivityTaskStarted', attributes);
}

export function completeActivityTask(
  m: Mutation,
  task: ActivityTask | undefined,
  claim: TaskClaim,
  result: unknown,
  identity: string,
): void {
  const held = assertClaim(task, claim);
  closeActivity(m, held, (scheduledEventId, startedEventId) =>
    m.deliver({
      eventType: 'ActivityTaskCompleted',
      attributes: {
        scheduledEventId,
        startedEventId,
        identity,
        ...(result !== undefined ? { result } : {}),
      },
    }),
  );
}

/** The activity acknowledged a cancellation request by throwing `CancelledFailure`. */
export function cancelActivityTask(
  m: Mutation,
  task: ActivityTask | undefined,
  claim: TaskClaim,
  details: unknown[],
  identity: string,
): void {
  const held = assertClaim(task, claim);
  const pending = m.state.activities[held.data.activityId];
  closeActivity(m, held, (scheduledEventId, startedEventId) =>
    m.deliver({
      eventType: 'ActivityTaskCanceled',
      attributes: {
        scheduledEventId,
        startedEventId,
        latestCancelRequestedEventId: pending?.cancelRequestedEventId ?? 0,
        identity,
        ...(details.length > 0 ? { details } : {}),
      },
    }),
  );
}

/**
 * A failed attempt: retried per the retry policy (the row waits out the backoff, the history is not
 * touched), or closed with ActivityTaskFailed.
 */
export function failActivityTask(
  m: Mutation,
  task: ActivityTask | undefined,
  claim: TaskClaim,
  failure: FailureInfo,
  identity: string,
  lastHeartbeatDetails?: unknown,
): void {
  let held = assertClaim(task, claim);
  if (lastHeartbeatDetails !== undefined)
    held = { ...held, data: { ...held.data, heartbeatDetails: lastHeartbeatDetails } };
  const decision = held.data.cancelRequested
    ? ({ retry: false, retryState: RetryState.CANCEL_REQUESTED } as const)
    : decideRetry(
        held.data.retryPolicy,
        held.data.attempt,
        failure,
        m.now,
        scheduleToCloseDeadline(held.data),
      );
  if (decision.retry) {
    m.put(retryLater(held, failure, m.now + decision.delay));
    return;
  }
  closeActivity(m, held, (scheduledEventId, startedEventId) =>
    m.deliver({
      eventType: 'ActivityTaskFailed',
      attributes: {
        scheduledEventId,
        startedEventId,
        failure,
        retryState: decision.retryState,
        identity,
      },
    }),
  );
}

function retryLater(task: ActivityTask, lastFailure: FailureInfo, at: number): ActivityTask {
  const { startedTime: _s, lastHeartbeatTime: _h, ...data } = task.data;
  return {
    ...task,
    state: TaskState.Waiting,
    expiresAt: at,
    claimedBy: undefined,
    data: { ...data, attempt: data.attempt + 1, lastFailure },
  };
}

/**
 * The row's `expiresAt` passed: a backoff ended (the next attempt becomes claimable) or a timeout
 * fired. A start-to-close or heartbeat timeout fails the attempt like an error would (retried per
 * policy); schedule-to-start and schedule-to-close close the activity at once.
 */
export function expireActivityTask(m: Mutation, task: ActivityTask): void {
  const { now } = m;
  const { data } = task;
  // The run closed (or the activity was closed) earlier in the same batch: nothing may revive it.
  const pending = m.state.activities[data.activityId];
  if (!isRunning(m.state) || !pending || pending.outcomeBuffered) {
    m.delete(task.key);
    return;
  }
  if (task.state === TaskState.Waiting) {
    const next = { ...data, readyTime: now };
    const expiresAt = readyExpiry(next);
    m.put({ ...task, state: TaskState.Ready, expiresAt, data: next });
    return;
  }
  const running = task.state === TaskState.Claimed;
  const timeoutType = firedTimeout(data, now, running);
  const failure: FailureInfo = {
    message: `activity ${timeoutType} timeout`,
    timeoutFailureInfo: {
      timeoutType,
      ...(data.heartbeatDetails !== undefined
        ? { lastHeartbeatDetails: data.heartbeatDetails }
        : {}),
    },
    ...(data.lastFailure ? { cause: data.lastFailure } : {}),
  };
  let retryState: RetryState = RetryState.TIMEOUT;
  if (
    running &&
    (timeoutType === TimeoutType.START_TO_CLOSE || timeoutType === TimeoutType.HEARTBEAT)
  ) {
    const decision = data.cancelRequested
      ? ({ retry: false, retryState: RetryState.CANCEL_REQUESTED } as const)
      : decideRetry(data.retryPolicy, data.attempt, failure, now, scheduleToCloseDeadline(data));
    if (decision.retry) {
      m.put(retryLater(task, failure, now + decision.delay));
      return;
    }
    retryState = decision.retryState;
  }
  closeActivity(
    m,
    task,
    (scheduledEventId, startedEventId) =>
      m.deliver({
        eventType: 'ActivityTaskTimedOut',
        attributes: { scheduledEventId, startedEventId, failure, retryState },
      }),
    running,
  );
}
