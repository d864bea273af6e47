/**
 * Workflow task transitions: claim, complete with commands, fail, time out.
 *
 * A workflow task is outstanding from its scheduling until it completes, fails or times out. Its
 * WorkflowTaskStarted event is written only when it ends (with the time of the claim), and events
 * that arrive while a worker holds it are buffered, so that the history a worker was given stays a
 * prefix of the history it completes against. Retried attempts (2+) and speculative tasks (scheduled
 * only to deliver updates) are transient, as in Temporal: their Scheduled/Started events are written
 * only when they complete, and a speculative task whose updates were all rejected leaves no trace.
 */
import type { FailureInfo } from '../common/failure-converter.ts';
import { TERMINAL_COMMAND_TYPES, type Command } from './commands.ts';
import { applyCommand, validateCommands } from './commands-apply.ts';
import { assertClaim, claimed } from './claims.ts';
import type { HistoryEvent, NewEvent, WorkflowTaskFailedCause } from './events.ts';
import { isRunning, latestEventTime, type StickyQueue } from './execution-state.ts';
import { hasAdmittedUpdates, undeliveredUpdates, type UpdateRequest } from './messages.ts';
import type { Mutation } from './mutation.ts';
import { workflowTaskRetryDelay } from './retry.ts';
import { TaskState, taskKey, type TaskClaim, type TaskRecord } from './tasks.ts';

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
  /** Updates to validate and run in this task (not in the history until accepted). */
  updates: UpdateRequest[];
}

/** How a completion went. `discarded`: a speculative task whose updates were all rejected left no trace. */
export type WorkflowTaskCompletion =
  { kind: 'completed' } | { kind: 'discarded' } | { kind: 'unhandled'; reason: string };

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
  const updates = undeliveredUpdates(m);
  wt.deliveredUpdateIds = updates.map((u) => u.updateId);
  const transientEvents: HistoryEvent[] = [];
  if (wt.scheduledEventId === 0) {
    // Transient: the Scheduled event gets the next id, written only if the task completes. It comes
    // after the events appended since it was scheduled, so it takes no earlier time than theirs.
    wt.scheduledEventId = state.nextEventId;
    wt.transient = true;
    wt.scheduledTime = Math.max(wt.scheduledTime, latestEventTime(state));
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
  // Events appended since the task was scheduled (and before this claim) come before its Started event.
  const startedEventId = wt.transient ? wt.scheduledEventId + 1 : state.nextEventId;
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
      updates,
    },
  };
}

/**
 * Writes the Scheduled (if transient) and Started events of the task being ended, with the times the
 * worker was told at the claim (workflow code saw the Started time as `Date.now()`, and a replay must
 * see the same); returns the Started id.
 */
function writeStarted(m: Mutation): number {
  const wt = m.state.workflowTask!;
  if (wt.transient) {
    m.append(
      'WorkflowTaskScheduled',
      {
        taskQueue: m.state.taskQueue,
        startToCloseTimeout: m.state.workflowTaskTimeout,
        attempt: wt.attempt,
      },
      wt.scheduledTime,
    );
  }
  return m.append(
    'WorkflowTaskStarted',
    { scheduledEventId: wt.scheduledEventId, identity: wt.started!.identity },
    wt.started!.time,
  );
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
  sticky?: StickyQueue,
): WorkflowTaskCompletion {
  const { state } = m;
  assertClaim(task, claim);
  validateCommands(state, commands);
  const wt = state.workflowTask!;
  // The completing worker keeps the run cached: its next task goes there first.
  if (sticky) state.sticky = sticky;
  else delete state.sticky;

  if (
    wt.speculative &&
    state.bufferedEvents.length === 0 &&
    commands.every((c) => c.commandType === 'RejectWorkflowUpdate')
  ) {
    for (const command of commands) applyCommand(m, command, 0, [], tasks);
    state.workflowTask = undefined;
    m.delete(taskKey.workflow(state.runId));
    if (hasAdmittedUpdates(m)) m.scheduleWorkflowTask(1, 0, true);
    return { kind: 'discarded' };
  }

  const closing = commands.some((c) => TERMINAL_COMMAND_TYPES.has(c.commandType));
  if (closing) {
    // As in Temporal: a workflow may not close over events or updates it has not seen (a signal, an
    // activity result that arrived meanwhile); it gets another task to handle them first.
    const delivered = new Set(wt.deliveredUpdateIds ?? []);
    const unseenEvent = state.bufferedEvents.length > 0;
    const unseenUpdate = Object.entries(state.updates ?? {}).some(
      ([id, u]) => u.stage === 'admitted' && !delivered.has(id),
    );
    if (unseenEvent || unseenUpdate) {
      const reason = `the workflow tried to close while ${unseenEvent ? `events it had not seen (${state.bufferedEvents.map((e) => e.eventType).join(', ')})` : 'an update it had not seen'} were waiting; it runs again to handle them`;
      const startedEventId = writeStarted(m);
      m.append('WorkflowTaskFailed', {
        scheduledEventId: wt.scheduledEventId,
        startedEventId,
        cause: 'UnhandledCommand',
        failure: { message: reason },
        identity,
      });
      state.workflowTask = undefined;
      delete state.sticky; // its worker drops the run: the next task is for any worker
      m.delete(taskKey.workflow(state.runId));
      m.flushBuffered();
      m.scheduleWorkflowTask();
      return { kind: 'unhandled', reason };
    }
  }

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
    if (TERMINAL_COMMAND_TYPES.has(command.commandType)) return { kind: 'completed' };
  }
  const buffered = state.bufferedEvents.length > 0;
  m.flushBuffered();
  for (const event of followUps) m.append(event.eventType, event.attributes);
  if (buffered || followUps.length > 0) m.scheduleWorkflowTask();
  // Updates delivered but neither accepted nor rejected (and new ones) go out with the next task.
  else if (hasAdmittedUpdates(m)) m.scheduleWorkflowTask(1, 0, true);
  return { kind: 'completed' };
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
  delete state.sticky; // the worker that failed (or went quiet) drops the run: any worker retries it
  // Only the first failure of a streak is written: a workflow stuck on a bug does not grow its history.
  // A speculative task's failure is not written either: it only carried updates, which are redelivered.
  if (wt.attempt === 1 && !wt.speculative) writeEnd(writeStarted(m), wt.scheduledEventId);
  state.workflowTask = undefined;
  m.flushBuffered();
  const next = wt.attempt + 1;
  m.scheduleWorkflowTask(next, workflowTaskRetryDelay(next));
}

/**
 * Ends the run's stickiness: its ready task, if it waits on a sticky queue, moves to the run's own
 * task queue for any worker. Used when nobody took it from there in time (its worker is gone or
 * busy), and when that worker shuts down.
 */
export function unstick(m: Mutation, task?: TaskRecord<'workflow'>): void {
  delete m.state.sticky;
  if (task?.state === TaskState.Ready && task.taskQueue !== m.state.taskQueue)
    m.put({ ...task, taskQueue: m.state.taskQueue, expiresAt: undefined });
}
