/**
 * Validates the commands of a completed workflow task and turns each into events and tasks.
 */
import { TERMINAL_COMMAND_TYPES, type Command } from './commands.ts';
import { RetryState } from '../common/failure.ts';
import { closeRun } from './close-run.ts';
import type { NewEvent } from './events.ts';
import type { ExecutionState } from './execution-state.ts';
import type { Mutation } from './mutation.ts';
import { readyExpiry } from './activity-deadlines.ts';
import { TaskKind, TaskState, taskKey, type TaskRecord } from './tasks.ts';

/** A command the engine refuses; the workflow task fails with cause `BadCommand` and nothing of it is written. */
export class BadCommandError extends Error {
  override name = 'BadCommandError';
}

function bad(message: string): never {
  throw new BadCommandError(message);
}

const positive = (value: unknown): boolean =>
  typeof value === 'number' && Number.isFinite(value) && value > 0;
const nonEmpty = (value: unknown): boolean => typeof value === 'string' && value.length > 0;

/** Checks every command before any is applied, so a bad one leaves the state untouched. */
export function validateCommands(state: ExecutionState, commands: Command[]): void {
  const activityIds = new Set(Object.keys(state.activities));
  const timerIds = new Set(Object.keys(state.timers));
  commands.forEach((command, index) => {
    const where = `command ${index + 1} (${command.commandType})`;
    if (TERMINAL_COMMAND_TYPES.has(command.commandType) && index !== commands.length - 1) {
      bad(`${where} closes the workflow but is not the last command.`);
    }
    switch (command.commandType) {
      case 'ScheduleActivityTask': {
        const a = command.attributes;
        if (!nonEmpty(a.activityId) || !nonEmpty(a.activityType) || !nonEmpty(a.taskQueue)) {
          bad(`${where} needs an activityId, an activityType and a taskQueue.`);
        }
        if (activityIds.has(a.activityId))
          bad(`${where}: activity id '${a.activityId}' is already in use by a pending activity.`);
        if (!positive(a.startToCloseTimeout))
          bad(`${where}: startToCloseTimeout must be greater than 0.`);
        activityIds.add(a.activityId);
        break;
      }
      case 'RequestCancelActivityTask':
        if (!state.activities[command.attributes.activityId]) {
          bad(`${where}: no pending activity has id '${command.attributes.activityId}'.`);
        }
        break;
      case 'StartTimer':
        if (!nonEmpty(command.attributes.timerId)) bad(`${where} needs a timerId.`);
        if (timerIds.has(command.attributes.timerId))
          bad(`${where}: timer id '${command.attributes.timerId}' is already in use.`);
        if (!positive(command.attributes.startToFireTimeout))
          bad(`${where}: startToFireTimeout must be greater than 0.`);
        timerIds.add(command.attributes.timerId);
        break;
      case 'CancelTimer':
        if (!state.timers[command.attributes.timerId])
          bad(`${where}: no pending timer has id '${command.attributes.timerId}'.`);
        break;
      case 'CompleteWorkflowExecution':
      case 'FailWorkflowExecution':
      case 'CancelWorkflowExecution':
        break;
      default:
        bad(`${where}: unknown command type.`);
    }
  });
}

/**
 * Applies one validated command. `followUps` collects events the engine produces in reaction (an
 * activity cancelled before it started) that the workflow must see in its next task; `tasks` holds
 * the current rows of activities that commands cancel.
 */
export function applyCommand(
  m: Mutation,
  command: Command,
  workflowTaskCompletedEventId: number,
  followUps: NewEvent[],
  tasks: ReadonlyMap<string, TaskRecord>,
): void {
  const { state, now } = m;
  switch (command.commandType) {
    case 'ScheduleActivityTask': {
      const a = command.attributes;
      const scheduledEventId = m.append('ActivityTaskScheduled', {
        ...a,
        workflowTaskCompletedEventId,
      });
      state.activities[a.activityId] = { scheduledEventId, activityType: a.activityType };
      const data = {
        workflowId: state.workflowId,
        workflowType: state.workflowType,
        scheduledEventId,
        activityId: a.activityId,
        activityType: a.activityType,
        input: a.input,
        scheduledTime: now,
        ...(a.scheduleToCloseTimeout ? { scheduleToCloseTimeout: a.scheduleToCloseTimeout } : {}),
        ...(a.scheduleToStartTimeout ? { scheduleToStartTimeout: a.scheduleToStartTimeout } : {}),
        startToCloseTimeout: a.startToCloseTimeout,
        ...(a.heartbeatTimeout ? { heartbeatTimeout: a.heartbeatTimeout } : {}),
        retryPolicy: a.retryPolicy,
        attempt: 1,
        readyTime: now,
      };
      const expiresAt = readyExpiry(data);
      m.put({
        key: taskKey.activity(state.runId, scheduledEventId),
        kind: TaskKind.Activity,
        runId: state.runId,
        taskQueue: a.taskQueue,
        state: TaskState.Ready,
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        claimToken: 0,
        data,
      });
      return;
    }
    case 'RequestCancelActivityTask': {
      const pending = state.activities[command.attributes.activityId]!;
      const { scheduledEventId } = pending;
      const requestedId = m.append('ActivityTaskCancelRequested', {
        scheduledEventId,
        workflowTaskCompletedEventId,
      });
      const key = taskKey.activity(state.runId, scheduledEventId);
      const task = tasks.get(key) as TaskRecord<'activity'> | undefined;
      if (task && task.state === TaskState.Claimed) {
        // A running attempt learns of the request at its next heartbeat.
        pending.cancelRequestedEventId = requestedId;
        m.put({ ...task, data: { ...task.data, cancelRequested: true } });
        return;
      }
      // Not running: cancelled at once.
      delete state.activities[command.attributes.activityId];
      m.delete(key);
      followUps.push({
        eventType: 'ActivityTaskCanceled',
        attributes: {
          scheduledEventId,
          startedEventId: 0,
          latestCancelRequestedEventId: requestedId,
        },
      });
      return;
    }
    case 'StartTimer': {
      const { timerId, startToFireTimeout } = command.attributes;
      const startedEventId = m.append('TimerStarted', {
        timerId,
        startToFireTimeout,
        workflowTaskCompletedEventId,
      });
      state.timers[timerId] = { startedEventId };
      m.put({
        key: taskKey.timer(state.runId, timerId),
        kind: TaskKind.Timer,
        runId: state.runId,
        state: TaskState.Waiting,
        expiresAt: now + startToFireTimeout,
        claimToken: 0,
        data: { timerId },
      });
      return;
    }
    case 'CancelTimer': {
      const { timerId } = command.attributes;
      const { startedEventId } = state.timers[timerId]!;
      m.append('TimerCanceled', { timerId, startedEventId, workflowTaskCompletedEventId });
      delete state.timers[timerId];
      m.delete(taskKey.timer(state.runId, timerId));
      return;
    }
    case 'CompleteWorkflowExecution':
      m.append('WorkflowExecutionCompleted', {
        ...command.attributes,
        workflowTaskCompletedEventId,
      });
      closeRun(m, 'Completed');
      return;
    case 'FailWorkflowExecution':
      m.append('WorkflowExecutionFailed', {
        failure: command.attributes.failure,
        retryState: RetryState.RETRY_POLICY_NOT_SET,
        workflowTaskCompletedEventId,
      });
      closeRun(m, 'Failed');
      return;
    case 'CancelWorkflowExecution':
      m.append('WorkflowExecutionCanceled', {
        ...command.attributes,
        workflowTaskCompletedEventId,
      });
      closeRun(m, 'Canceled');
      return;
  }
}
