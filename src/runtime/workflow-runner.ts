/**
 * Drives one run's `Activator` through its history. Events are cut into workflow tasks at each
 * WorkflowTaskStarted: the events before it are the activation's jobs, the command events after its
 * WorkflowTaskCompleted must match the commands the code made (else a `DeterminismViolationError`),
 * and the last Started event is the task to answer now. A first run and a replay take exactly the
 * same path; only `isReplaying` differs.
 */
import { DeterminismViolationError } from '../common/errors.ts';
import type { Command } from '../state/commands.ts';
import { COMMAND_EVENT_TYPES, type HistoryEvent } from '../state/events.ts';
import { Activator, type WorkflowFunction } from './activator.ts';
import type { WorkflowInfo, WorkflowLogger } from './workflow-info.ts';

/** Events that wake workflow code. */
const JOB_EVENT_TYPES = new Set([
  'WorkflowExecutionStarted',
  'WorkflowExecutionCancelRequested',
  'TimerFired',
  'ActivityTaskCompleted',
  'ActivityTaskFailed',
  'ActivityTaskTimedOut',
  'ActivityTaskCanceled',
]);

/** Waits until every microtask that the activation set off has run. */
const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The part of a workflow task the runner needs. */
export interface TaskToRun {
  startedEventId: number;
  history: HistoryEvent[];
}

export class WorkflowRunner {
  readonly activator: Activator;
  /** Id of the last history event this runner has consumed. */
  lastEventId = 0;
  /** WorkflowTaskStarted id of the last task this runner answered. */
  lastStartedEventId = 0;
  private jobs: HistoryEvent[] = [];
  /** Commands of the last activation not yet matched with their events. */
  private unmatched: Command[] = [];
  private unmatchedFrom = 0;

  constructor(
    workflow: WorkflowFunction,
    info: Omit<WorkflowInfo, 'unsafe'>,
    logger: WorkflowLogger,
  ) {
    this.activator = new Activator(info, workflow, logger);
  }

  /** Builds the workflow info from a run's first event. */
  static infoFrom(started: HistoryEvent, runId: string): Omit<WorkflowInfo, 'unsafe'> {
    if (started.eventType !== 'WorkflowExecutionStarted') {
      throw new DeterminismViolationError(
        `History of run ${runId} does not begin with WorkflowExecutionStarted (event 1 is ${started.eventType}).`,
      );
    }
    const a = started.attributes;
    return {
      workflowId: a.workflowId,
      runId,
      workflowType: a.workflowType,
      taskQueue: a.taskQueue,
      attempt: a.attempt,
      firstExecutionRunId: a.firstExecutionRunId,
      startTime: new Date(started.eventTime),
      runStartTime: new Date(started.eventTime),
      ...(a.workflowExecutionTimeout ? { executionTimeout: a.workflowExecutionTimeout } : {}),
      ...(a.workflowRunTimeout ? { runTimeout: a.workflowRunTimeout } : {}),
      workflowTaskTimeout: a.workflowTaskTimeout,
      historyLength: 1,
    };
  }

  /**
   * Consumes the task's history (the part after `lastEventId`) and returns the commands of its last
   * activation. Throws `DeterminismViolationError`, or the workflow code's own error, to fail the task.
   */
  async runTask(task: TaskToRun): Promise<Command[]> {
    const { history, startedEventId } = task;
    for (let i = 0; i < history.length; i++) {
      const event = history[i]!;
      if (event.eventId <= this.lastEventId) continue;
      this.lastEventId = event.eventId;
      if (COMMAND_EVENT_TYPES.has(event.eventType)) {
        this.match(event);
      } else if (event.eventType === 'WorkflowTaskStarted') {
        this.assertAllMatched(event);
        if (event.eventId === startedEventId) {
          await this.activate(event, false);
          this.lastStartedEventId = event.eventId;
          // Kept to match against their events when the next task's history arrives (cached run).
          this.unmatched = this.takeCommands();
          this.unmatchedFrom = event.eventId + 1;
          return [...this.unmatched];
        }
        // An attempt that failed or timed out left no commands; its jobs carry over to the next one.
        if (history[i + 1]?.eventType === 'WorkflowTaskCompleted') {
          await this.activate(event, true);
          this.unmatchedFrom = history[i + 1]!.eventId;
          this.unmatched = this.takeCommands();
        }
      } else if (JOB_EVENT_TYPES.has(event.eventType)) {
        this.jobs.push(event);
      }
    }
    throw new DeterminismViolationError(
      `The history given for run ${this.activator.info.runId} ends at event ${this.lastEventId} without the workflow task's WorkflowTaskStarted event ${startedEventId}.`,
    );
  }

  private async activate(started: HistoryEvent, replaying: boolean): Promise<void> {
    const a = this.activator;
    a.now = started.eventTime;
    a.isReplaying = replaying;
    a.info.historyLength = started.eventId;
    const jobs = this.jobs;
    this.jobs = [];
    a.activating = true;
    try {
      for (const job of jobs) a.apply(job);
      await drainMicrotasks();
    } finally {
      a.activating = false;
    }
    if (a.workflowTaskError) {
      const error = a.workflowTaskError;
      a.workflowTaskError = undefined;
      throw error;
    }
  }

  private takeCommands(): Command[] {
    const commands = this.activator.commands;
    this.activator.commands = [];
    return commands;
  }

  /** Checks a command event of the history against the next command the code made. */
  private match(event: HistoryEvent): void {
    const command = this.unmatched.shift();
    if (!command || !sameCommand(command, event, this.activator)) {
      throw new DeterminismViolationError(
        `${this.where()}: history event ${event.eventId} is ${describeEvent(event, this.activator)}, but the workflow code ${
          command ? `now made ${describeCommand(command)}` : 'made no matching command'
        }. Deploy code that makes the same commands for existing runs (or branch on patched()).`,
      );
    }
    if (event.eventType === 'ActivityTaskScheduled')
      this.activator.bindActivity(event.attributes.activityId, event.eventId);
  }

  private assertAllMatched(next: HistoryEvent): void {
    const command = this.unmatched[0];
    if (!command) return;
    throw new DeterminismViolationError(
      `${this.where()}: the workflow code made ${describeCommand(command)} in the workflow task completed at event ${this.unmatchedFrom}, but the history has no such event (event ${next.eventId} is ${next.eventType}). Deploy code that makes the same commands for existing runs (or branch on patched()).`,
    );
  }

  private where(): string {
    const { workflowType, workflowId, runId } = this.activator.info;
    return `Nondeterminism in workflow '${workflowId}' (type ${workflowType}, run ${runId})`;
  }
}

function sameCommand(command: Command, event: HistoryEvent, activator: Activator): boolean {
  switch (command.commandType) {
    case 'ScheduleActivityTask':
      return (
        event.eventType === 'ActivityTaskScheduled' &&
        event.attributes.activityType === command.attributes.activityType &&
        event.attributes.activityId === command.attributes.activityId
      );
    case 'StartTimer':
      return (
        event.eventType === 'TimerStarted' &&
        event.attributes.timerId === command.attributes.timerId
      );
    case 'CancelTimer':
      return (
        event.eventType === 'TimerCanceled' &&
        event.attributes.timerId === command.attributes.timerId
      );
    case 'RequestCancelActivityTask':
      return (
        event.eventType === 'ActivityTaskCancelRequested' &&
        event.attributes.scheduledEventId ===
          activator.scheduledEventIdOf(command.attributes.activityId)
      );
    case 'CompleteWorkflowExecution':
      return event.eventType === 'WorkflowExecutionCompleted';
    case 'FailWorkflowExecution':
      return event.eventType === 'WorkflowExecutionFailed';
    case 'CancelWorkflowExecution':
      return event.eventType === 'WorkflowExecutionCanceled';
  }
}

export function describeCommand(command: Command): string {
  switch (command.commandType) {
    case 'ScheduleActivityTask':
      return `ScheduleActivityTask (activityType '${command.attributes.activityType}', activityId '${command.attributes.activityId}')`;
    case 'StartTimer':
    case 'CancelTimer':
      return `${command.commandType} (timerId '${command.attributes.timerId}')`;
    case 'RequestCancelActivityTask':
      return `RequestCancelActivityTask (activityId '${command.attributes.activityId}')`;
    default:
      return command.commandType;
  }
}

function describeEvent(event: HistoryEvent, _activator: Activator): string {
  switch (event.eventType) {
    case 'ActivityTaskScheduled':
      return `ActivityTaskScheduled (activityType '${event.attributes.activityType}', activityId '${event.attributes.activityId}')`;
    case 'TimerStarted':
    case 'TimerCanceled':
      return `${event.eventType} (timerId '${event.attributes.timerId}')`;
    case 'ActivityTaskCancelRequested':
      return `ActivityTaskCancelRequested (scheduledEventId ${event.attributes.scheduledEventId})`;
    default:
      return event.eventType;
  }
}
