/**
 * Workflow task transitions: claim, complete with commands, fail, time out.
 *
 * A workflow task is outstanding from its scheduling until it completes, fails or times out. Its
 * WorkflowTaskStarted event is written only when it ends (with the time of the claim), and events
 * that arrive while a worker holds it are buffered, so that the history a worker was given stays a
 * prefix of the history it completes against. Retried attempts (2+) are transient, as in Temporal:
 * their Scheduled/Started events are written only if the attempt succeeds.
 */
import type { FailureInfo } from '../common/failure-converter.ts';
import { TERMINAL_COMMAND_TYPES, type Command } from './commands.ts';
import { applyCommand, validateCommands } from './commands-apply.ts';
import { assertClaim, claimed } from './claims.ts';
import type { HistoryEvent, NewEvent, WorkflowTaskFailedCause } from './events.ts';
import { isRunning } from './execution-state.ts';
import type { Mutation } from './mutation.ts';
import { workflowTaskRetryDelay } from './retry.ts';
import { taskKey, type TaskClaim, type TaskRecord } from './tasks.ts';

/** What a worker is told when it claims a workflow task. */
export interface WorkflowTaskStart {
  scheduledEventId: number;
  startedEventId: number;
  startedTime: number;
  attempt: number;
  /** Started id of the previous completed task: a worker whose cached run saw a different one must replay. */
  previousStartedEventId: number;
  /** Events not yet in the history that the worker must see at its end (Scheduled of a transient attempt, Started). */
  transientEvents: HistoryEvent[];
}

export function claimWorkflowTask(
  m: Mutation,
  task: TaskRecord<'workflow'>,
  identity: string,
  claimToken: number,
): { task: TaskRecord<'workflow'>; start: WorkflowTaskStart } | undefined {
  const { state, now } = m;
  const wt = state.workflowTask;
  if (!isRunning(state) || !wt || wt.started) return undefined;
  wt.started = { time: now, identity };
  const transientEvents: HistoryEvent[] = [];
  if (wt.attempt > 1) {
    wt.scheduledEventId = state.nextEventId;
    transientEvents.push({
      eventId: wt.scheduledEventId,
      eventTime: wt.scheduledTime,
      eventType: 'WorkflowTaskScheduled',
      attributes: {
        taskQueue: state.taskQueue,
        startToCloseTimeout: state.workflowTaskTimeout,
        attempt: wt.attempt,
      },
    });
  }
  const startedEventId = wt.scheduledEventId + 1;
  transientEvents.push({
    eventId: startedEventId,
    eventTime: now,
    eventType: 'WorkflowTaskStarted',
    attributes: { scheduledEventId: wt.scheduledEventId, identity },
  });
  return {
    task: claimed(task, identity, now + state.workflowTaskTimeout, claimToken),
    start: {
      scheduledEventId: wt.scheduledEventId,
      startedEventId,
      startedTime: now,
      attempt: wt.attempt,
      previousStartedEventId: state.lastCompletedStartedEventId,
      transientEvents,
    },
  };
}

/** Writes the Scheduled (if transient) and Started events of the task being ended; returns the Started id. */
function writeStarted(m: Mutation): number {
  const wt = m.state.workflowTask!;
  if (wt.attempt > 1) {
    m.append('WorkflowTaskScheduled', {
      taskQueue: m.state.taskQueue,
      startToCloseTimeout: m.state.workflowTaskTimeout,
      attempt: wt.attempt,
    });
  }
  return m.append('WorkflowTaskStarted', {
    scheduledEventId: wt.scheduledEventId,
    identity: wt.started!.identity,
  });
}

/**
 * Completes the held workflow task with the commands the workflow code produced. Throws
 * `TaskLostError` if the task is no longer held, and `BadCommandError` (before changing anything) if
 * a command is invalid; the caller then fails the task instead.
 */
export function completeWorkflowTask(
  m: Mutation,
  task: TaskRecord<'workflow'> | undefined,
  claim: TaskClaim,
  commands: Command[],
  identity: string,
  flags: number[],
  tasks: ReadonlyMap<string, TaskRecord> = new Map(),
): void {
  const { state } = m;
  assertClaim(task, claim);
  validateCommands(state, commands);
  const wt = state.workflowTask!;
  const startedEventId = writeStarted(m);
  const completedEventId = m.append('WorkflowTaskCompleted', {
    scheduledEventId: wt.scheduledEventId,
    startedEventId,
    identity,
    ...(flags.length > 0 ? { flags } : {}),
  });
  state.lastCompletedStartedEventId = startedEventId;
  state.lastWorkflowTaskFailure = undefined;
  state.workflowTask = undefined;
  m.delete(taskKey.workflow(state.runId));

  const followUps: NewEvent[] = [];
  for (const command of commands) {
    applyCommand(m, command, completedEventId, followUps, tasks);
    if (TERMINAL_COMMAND_TYPES.has(command.commandType)) return;
  }
  const buffered = state.bufferedEvents.length > 0;
  m.flushBuffered();
  for (const event of followUps) m.append(event.eventType, event.attributes);
  if (buffered || followUps.length > 0) m.scheduleWorkflowTask();
}

/** Fails the held workflow task (a worker reported an error); a new attempt is scheduled after a backoff. */
export function failWorkflowTask(
  m: Mutation,
  task: TaskRecord<'workflow'> | undefined,
  claim: TaskClaim,
  cause: WorkflowTaskFailedCause,
  failure: FailureInfo,
  identity: string,
): void {
  assertClaim(task, claim);
  const attempt = m.state.workflowTask!.attempt;
  endAttempt(m, (startedEventId, scheduledEventId) =>
    m.append('WorkflowTaskFailed', { scheduledEventId, startedEventId, cause, failure, identity }),
  );
  m.state.lastWorkflowTaskFailure = { cause, message: failure.message, attempt, time: m.now };
}

/** The worker holding the task did not answer within the workflow task timeout. */
export function timeOutWorkflowTask(m: Mutation): void {
  const attempt = m.state.workflowTask!.attempt;
  m.state.lastWorkflowTaskFailure = {
    cause: 'TimedOut',
    message: 'workflow task timed out',
    attempt,
    time: m.now,
  };
  endAttempt(m, (startedEventId, scheduledEventId) =>
    m.append('WorkflowTaskTimedOut', {
      scheduledEventId,
      startedEventId,
      timeoutType: 'START_TO_CLOSE',
    }),
  );
}

function endAttempt(
  m: Mutation,
  writeEnd: (startedEventId: number, scheduledEventId: number) => void,
): void {
  const { state } = m;
  const wt = state.workflowTask!;
  // Only the first failure of a streak is written: a workflow stuck on a bug does not grow its history.
  if (wt.attempt === 1) writeEnd(writeStarted(m), wt.scheduledEventId);
  state.workflowTask = undefined;
  m.flushBuffered();
  const next = wt.attempt + 1;
  m.scheduleWorkflowTask(next, workflowTaskRetryDelay(next));
}
