/**
 * Validates the commands of a completed workflow task and turns each into events, tasks and effects
 * on other runs.
 */
import { TERMINAL_COMMAND_TYPES, type Command } from './commands.ts';
import { RetryState } from '../common/failure.ts';
import { closeRun } from './close-run.ts';
import type { NewEvent } from './events.ts';
import { ExecutionStatus, type ExecutionState } from './execution-state.ts';
import { continueChain } from './execution.ts';
import type { Mutation } from './mutation.ts';
import { forgetOldUpdateOutcomes } from './messages.ts';
import { readyExpiry } from './activity-deadlines.ts';
import { decideRetry } from './retry.ts';
import { applySearchAttributes, validateSearchAttributeValues } from './search-attributes.ts';
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
  const delivered = new Set(state.workflowTask?.deliveredUpdateIds ?? []);
  const answered = new Set<string>();
  const accepted = new Set(
    Object.entries(state.updates ?? {})
      .filter(([, u]) => u.stage === 'accepted')
      .map(([id]) => id),
  );
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
        if (
          !activityIds.has(command.attributes.activityId) ||
          !state.activities[command.attributes.activityId]
        ) {
          bad(`${where}: no pending activity has id '${command.attributes.activityId}'.`);
        }
        activityIds.delete(command.attributes.activityId);
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
        if (
          !timerIds.has(command.attributes.timerId) ||
          !state.timers[command.attributes.timerId]
        ) {
          bad(`${where}: no pending timer has id '${command.attributes.timerId}'.`);
        }
        timerIds.delete(command.attributes.timerId);
        break;
      case 'StartChildWorkflowExecution': {
        const a = command.attributes;
        if (!nonEmpty(a.workflowId) || !nonEmpty(a.workflowType) || !nonEmpty(a.taskQueue)) {
          bad(`${where} needs a workflowId, a workflowType and a taskQueue.`);
        }
        if (a.searchAttributes) checkSearchAttributes(where, a.searchAttributes);
        break;
      }
      case 'SignalExternalWorkflowExecution':
        if (!nonEmpty(command.attributes.workflowId) || !nonEmpty(command.attributes.signalName)) {
          bad(`${where} needs a workflowId and a signalName.`);
        }
        break;
      case 'RequestCancelExternalWorkflowExecution':
        if (!nonEmpty(command.attributes.workflowId)) bad(`${where} needs a workflowId.`);
        break;
      case 'UpsertWorkflowSearchAttributes':
        checkSearchAttributes(where, command.attributes.searchAttributes);
        break;
      case 'AcceptWorkflowUpdate':
      case 'RejectWorkflowUpdate': {
        const { updateId } = command.attributes;
        if (
          !delivered.has(updateId) ||
          state.updates?.[updateId]?.stage !== 'admitted' ||
          answered.has(updateId)
        ) {
          bad(
            `${where}: update '${updateId}' was not delivered with this workflow task or was already answered.`,
          );
        }
        answered.add(updateId);
        if (command.commandType === 'AcceptWorkflowUpdate') accepted.add(updateId);
        break;
      }
      case 'CompleteWorkflowUpdate':
        if (!accepted.has(command.attributes.updateId))
          bad(`${where}: update '${command.attributes.updateId}' was not accepted.`);
        accepted.delete(command.attributes.updateId);
        break;
      case 'ContinueAsNewWorkflowExecution':
        if (!nonEmpty(command.attributes.workflowType) || !nonEmpty(command.attributes.taskQueue)) {
          bad(`${where} needs a workflowType and a taskQueue.`);
        }
        if (command.attributes.searchAttributes)
          checkSearchAttributes(where, command.attributes.searchAttributes);
        break;
      case 'CompleteWorkflowExecution':
      case 'FailWorkflowExecution':
      case 'CancelWorkflowExecution':
      case 'ModifyWorkflowProperties':
      case 'RecordMarker':
        break;
      default:
        bad(`${where}: unknown command type.`);
    }
  });
}

function checkSearchAttributes(
  where: string,
  values: Parameters<typeof validateSearchAttributeValues>[0],
): void {
  const problem = validateSearchAttributeValues(values);
  if (problem) bad(`${where}: ${problem}`);
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
      // Its outcome is already buffered: the request is recorded, the outcome still comes.
      if (pending.outcomeBuffered) return;
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
      const { startedEventId, firedBuffered } = state.timers[timerId]!;
      if (firedBuffered) {
        // The code cancelled a timer that fired while it ran: the cancellation wins, as in Temporal.
        state.bufferedEvents = state.bufferedEvents.filter(
          (e) => !(e.eventType === 'TimerFired' && e.attributes.timerId === timerId),
        );
      }
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
      closeRun(m, ExecutionStatus.Completed, {
        eventType: 'ChildWorkflowExecutionCompleted',
        attributes: command.attributes,
      });
      return;
    case 'FailWorkflowExecution': {
      const { failure } = command.attributes;
      const decision = state.retryPolicy
        ? decideRetry(
            state.retryPolicy,
            state.attempt ?? 1,
            failure,
            now,
            state.executionExpirationTime,
          )
        : undefined;
      if (decision?.retry) {
        const newExecutionRunId = m.newRunId();
        m.append('WorkflowExecutionFailed', {
          failure,
          retryState: RetryState.IN_PROGRESS,
          workflowTaskCompletedEventId,
          newExecutionRunId,
        });
        closeRun(m, ExecutionStatus.Failed);
        continueChain(
          m,
          newExecutionRunId,
          'Retry',
          decision.delay,
          { continuedFailure: failure },
          state.input,
        );
        return;
      }
      const retryState = decision ? decision.retryState : RetryState.RETRY_POLICY_NOT_SET;
      m.append('WorkflowExecutionFailed', { failure, retryState, workflowTaskCompletedEventId });
      closeRun(m, ExecutionStatus.Failed, {
        eventType: 'ChildWorkflowExecutionFailed',
        attributes: { failure, retryState },
      });
      return;
    }
    case 'CancelWorkflowExecution':
      m.append('WorkflowExecutionCanceled', {
        ...command.attributes,
        workflowTaskCompletedEventId,
      });
      closeRun(m, ExecutionStatus.Canceled, {
        eventType: 'ChildWorkflowExecutionCanceled',
        attributes: command.attributes,
      });
      return;
    case 'ContinueAsNewWorkflowExecution': {
      const a = command.attributes;
      const newExecutionRunId = m.newRunId();
      const workflowTaskTimeout = a.workflowTaskTimeout ?? state.workflowTaskTimeout;
      m.append('WorkflowExecutionContinuedAsNew', {
        newExecutionRunId,
        workflowType: a.workflowType,
        taskQueue: a.taskQueue,
        input: a.input,
        ...(a.workflowRunTimeout ? { workflowRunTimeout: a.workflowRunTimeout } : {}),
        workflowTaskTimeout,
        workflowTaskCompletedEventId,
      });
      closeRun(m, ExecutionStatus.ContinuedAsNew);
      continueChain(m, newExecutionRunId, 'ContinueAsNew', 0, {
        workflowType: a.workflowType,
        taskQueue: a.taskQueue,
        input: a.input,
        workflowTaskTimeout,
        ...(a.workflowRunTimeout ? { workflowRunTimeout: a.workflowRunTimeout } : {}),
        ...(a.memo ? { memo: a.memo } : {}),
        ...(a.searchAttributes ? { searchAttributes: a.searchAttributes } : {}),
      });
      return;
    }
    case 'StartChildWorkflowExecution': {
      const a = command.attributes;
      const attributes = {
        ...a,
        workflowTaskTimeout: a.workflowTaskTimeout ?? 10_000,
        workflowTaskCompletedEventId,
      };
      const initiatedEventId = m.append('StartChildWorkflowExecutionInitiated', attributes);
      state.children ??= {};
      state.children[initiatedEventId] = {
        workflowId: a.workflowId,
        workflowType: a.workflowType,
        parentClosePolicy: a.parentClosePolicy,
      };
      m.effects.push({
        type: 'start-child',
        parent: { workflowId: state.workflowId, runId: state.runId, initiatedEventId },
        parentWorkflowType: state.workflowType,
        attributes,
      });
      return;
    }
    case 'SignalExternalWorkflowExecution': {
      const a = command.attributes;
      const initiatedEventId = m.append('SignalExternalWorkflowExecutionInitiated', {
        ...a,
        workflowTaskCompletedEventId,
      });
      state.externals ??= {};
      state.externals[initiatedEventId] = {
        kind: 'signal',
        workflowId: a.workflowId,
        ...(a.runId ? { runId: a.runId } : {}),
      };
      m.effects.push({
        type: 'signal-external',
        source: { runId: state.runId, initiatedEventId },
        workflowId: a.workflowId,
        ...(a.runId ? { runId: a.runId } : {}),
        signalName: a.signalName,
        input: a.input,
      });
      return;
    }
    case 'RequestCancelExternalWorkflowExecution': {
      const a = command.attributes;
      const initiatedEventId = m.append('RequestCancelExternalWorkflowExecutionInitiated', {
        ...a,
        workflowTaskCompletedEventId,
      });
      state.externals ??= {};
      state.externals[initiatedEventId] = {
        kind: 'cancel',
        workflowId: a.workflowId,
        ...(a.runId ? { runId: a.runId } : {}),
      };
      m.effects.push({
        type: 'cancel-external',
        source: { runId: state.runId, initiatedEventId },
        workflowId: a.workflowId,
        ...(a.runId ? { runId: a.runId } : {}),
        childWorkflowOnly: a.childWorkflowOnly,
      });
      return;
    }
    case 'UpsertWorkflowSearchAttributes':
      m.append('UpsertWorkflowSearchAttributes', {
        ...command.attributes,
        workflowTaskCompletedEventId,
      });
      applySearchAttributes(state, command.attributes.searchAttributes);
      m.searchAttributesChanged = true;
      return;
    case 'ModifyWorkflowProperties': {
      m.append('WorkflowPropertiesModified', {
        ...command.attributes,
        workflowTaskCompletedEventId,
      });
      const memo = { ...(state.memo ?? {}) };
      for (const [key, value] of Object.entries(command.attributes.upsertedMemo)) {
        if (value === null) delete memo[key];
        else memo[key] = value;
      }
      state.memo = memo;
      return;
    }
    case 'RecordMarker':
      m.append('MarkerRecorded', { ...command.attributes, workflowTaskCompletedEventId });
      return;
    case 'AcceptWorkflowUpdate': {
      const { updateId, name, input } = command.attributes;
      const update = state.updates![updateId]!;
      update.acceptedEventId = m.append('WorkflowExecutionUpdateAccepted', {
        updateId,
        name,
        input,
        ...(update.identity ? { identity: update.identity } : {}),
        workflowTaskCompletedEventId,
      });
      update.stage = 'accepted';
      delete update.input;
      return;
    }
    case 'RejectWorkflowUpdate': {
      const update = state.updates![command.attributes.updateId]!;
      update.stage = 'rejected';
      update.rejection = command.attributes.failure;
      delete update.input;
      return;
    }
    case 'CompleteWorkflowUpdate': {
      const { updateId, outcome } = command.attributes;
      const update = state.updates![updateId]!;
      update.completedEventId = m.append('WorkflowExecutionUpdateCompleted', {
        updateId,
        acceptedEventId: update.acceptedEventId!,
        outcome,
        workflowTaskCompletedEventId,
      });
      update.stage = 'completed';
      update.outcome = outcome;
      forgetOldUpdateOutcomes(state.updates!);
      return;
    }
  }
}
