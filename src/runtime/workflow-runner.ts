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
import type { UpdateRequest } from '../state/messages.ts';
import { Activator, PATCH_MARKER, type WorkflowFunction } from './activator.ts';
import type { WorkflowInfo, WorkflowLogger } from './workflow-info.ts';

/** Events that wake workflow code. */
const JOB_EVENT_TYPES = new Set<string>([
  'WorkflowExecutionStarted',
  'WorkflowExecutionCancelRequested',
  'WorkflowExecutionSignaled',
  'TimerFired',
  'ActivityTaskCompleted',
  'ActivityTaskFailed',
  'ActivityTaskTimedOut',
  'ActivityTaskCanceled',
  'ChildWorkflowExecutionStarted',
  'StartChildWorkflowExecutionFailed',
  'ChildWorkflowExecutionCompleted',
  'ChildWorkflowExecutionFailed',
  'ChildWorkflowExecutionCanceled',
  'ChildWorkflowExecutionTimedOut',
  'ChildWorkflowExecutionTerminated',
  'ExternalWorkflowExecutionSignaled',
  'SignalExternalWorkflowExecutionFailed',
  'ExternalWorkflowExecutionCancelRequested',
  'RequestCancelExternalWorkflowExecutionFailed',
]);

/** Waits until every microtask that the activation set off has run. */
const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Rounds of condition checks per activation before giving up on a condition that keeps flipping. */
const MAX_CONDITION_ROUNDS = 1000;

/** The part of a workflow task the runner needs. */
export interface TaskToRun {
  startedEventId: number;
  history: HistoryEvent[];
  /** Updates delivered with this task. */
  updates?: UpdateRequest[];
}

export interface RunnerOptions {
  /** `workflowInfo().continueAsNewSuggested` turns true at this history length. */
  continueAsNewSuggestedAt?: number;
}

export class WorkflowRunner {
  readonly activator: Activator;
  /** Id of the last history event this runner has consumed. */
  lastEventId = 0;
  /** WorkflowTaskStarted id of the last task this runner answered. */
  lastStartedEventId = 0;
  /**
   * Events recorded after `lastEventId` that its worker already knows (those its last completion
   * wrote): the next task's history need not be read from the store from `lastEventId`, only after these.
   */
  knownAhead: HistoryEvent[] = [];
  private jobs: HistoryEvent[] = [];
  /** Commands of the last activation not yet matched with their events. */
  private unmatched: Command[] = [];
  private unmatchedFrom = 0;
  private readonly continueAsNewSuggestedAt: number;

  constructor(
    workflow: WorkflowFunction,
    info: Omit<WorkflowInfo, 'unsafe'>,
    logger: WorkflowLogger,
    options: RunnerOptions = {},
  ) {
    this.activator = new Activator(info, workflow, logger);
    this.continueAsNewSuggestedAt = options.continueAsNewSuggestedAt ?? 10_000;
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
      ...(a.continuedExecutionRunId
        ? { continuedFromExecutionRunId: a.continuedExecutionRunId }
        : {}),
      ...(a.parent ? { parent: { workflowId: a.parent.workflowId, runId: a.parent.runId } } : {}),
      startTime: new Date(started.eventTime),
      runStartTime: new Date(started.eventTime),
      ...(a.workflowExecutionTimeout ? { executionTimeout: a.workflowExecutionTimeout } : {}),
      ...(a.workflowRunTimeout ? { runTimeout: a.workflowRunTimeout } : {}),
      workflowTaskTimeout: a.workflowTaskTimeout,
      historyLength: 1,
      continueAsNewSuggested: false,
      memo: a.memo ?? {},
      searchAttributes: a.searchAttributes
        ? Object.fromEntries(Object.entries(a.searchAttributes).filter(([, v]) => v !== null))
        : {},
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
      if (event.eventType === 'WorkflowTaskStarted' && event.eventId === startedEventId) {
        this.assertAllMatched(event);
        await this.activate(event, false, task.updates ?? []);
        this.lastStartedEventId = event.eventId;
        const commands = this.takeCommands();
        // Kept to match against their events when the next task's history arrives (cached run).
        this.unmatched = commands.filter(recorded);
        this.unmatchedFrom = event.eventId + 1;
        return commands;
      }
      await this.consume(history, i);
    }
    throw new DeterminismViolationError(
      `The history given for run ${this.activator.info.runId} ends at event ${this.lastEventId} without the workflow task's WorkflowTaskStarted event ${startedEventId}.`,
    );
  }

  /** Replays `history` up to its end without a new activation: brings a run up to date to answer a query. */
  async catchUp(history: HistoryEvent[]): Promise<void> {
    for (let i = 0; i < history.length; i++) {
      const event = history[i]!;
      if (event.eventId <= this.lastEventId) continue;
      this.lastEventId = event.eventId;
      await this.consume(history, i);
    }
    // The last activation's commands may have no events yet if the run is still running; that is fine here.
  }

  /**
   * The engine dropped the last task without a trace (a speculative task whose updates were all
   * rejected): the run continues from the last real event, as if that task never ran.
   */
  rewindSpeculativeTask(lastRealEventId: number, lastStartedEventId: number): void {
    this.lastEventId = lastRealEventId;
    this.lastStartedEventId = lastStartedEventId;
    this.unmatched = [];
  }

  /** Replays a whole history and checks that every recorded command was made again. */
  async replayAll(history: HistoryEvent[]): Promise<void> {
    await this.catchUp(history);
    const last = history.at(-1)!;
    this.assertAllMatched({
      ...last,
      eventId: last.eventId + 1,
      eventType: 'end of history',
    } as unknown as HistoryEvent);
  }

  /** Answers a query from the run's current state. */
  query(name: string, args: unknown[]): unknown {
    return this.activator.messages.query(name, args);
  }

  /** Handles one event of a replayed part of the history. */
  private async consume(history: HistoryEvent[], index: number): Promise<void> {
    const event = history[index]!;
    if (COMMAND_EVENT_TYPES.has(event.eventType)) {
      this.match(event);
    } else if (event.eventType === 'WorkflowTaskStarted') {
      this.assertAllMatched(event);
      // An attempt that failed or timed out left no commands; its jobs carry over to the next one.
      const completed = history[index + 1];
      if (completed?.eventType === 'WorkflowTaskCompleted') {
        const { updates, patches } = lookAhead(history, index + 2, completed.eventId);
        for (const patch of patches) this.activator.knownPatches.add(patch);
        await this.activate(event, true, updates);
        this.unmatchedFrom = completed.eventId;
        this.unmatched = this.takeCommands().filter(recorded);
      }
    } else if (JOB_EVENT_TYPES.has(event.eventType)) {
      this.jobs.push(event);
    }
  }

  private async activate(
    started: HistoryEvent,
    replaying: boolean,
    updates: UpdateRequest[],
  ): Promise<void> {
    const a = this.activator;
    a.now = started.eventTime;
    a.isReplaying = replaying;
    a.info.historyLength = started.eventId;
    a.info.continueAsNewSuggested = started.eventId >= this.continueAsNewSuggestedAt;
    // A cancel request goes last: results that arrived with it resolve their operations first, so
    // the code never asks to cancel what already finished.
    const jobs = [
      ...this.jobs.filter((j) => j.eventType !== 'WorkflowExecutionCancelRequested'),
      ...this.jobs.filter((j) => j.eventType === 'WorkflowExecutionCancelRequested'),
    ];
    this.jobs = [];
    a.activating = true;
    try {
      for (const job of jobs) a.apply(job);
      for (const update of updates) a.messages.queueUpdate({ ...update, replay: replaying });
      await drainMicrotasks();
      // Updates run once the code had its chance to register their handlers; then conditions settle.
      for (let round = 0; round < MAX_CONDITION_ROUNDS; round++) {
        const hadUpdates = a.messages.hasQueuedUpdates;
        a.messages.processUpdates();
        const fired = a.checkConditions();
        if (!hadUpdates && !fired) break;
        await drainMicrotasks();
      }
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
    let command = this.unmatched[0];
    // Deprecated patches may vanish from code, and patch markers from code that no longer calls patched().
    while (
      command &&
      isPatchMarker(command) &&
      command.attributes.details.deprecated === true &&
      !sameCommand(command, event, this.activator)
    ) {
      this.unmatched.shift();
      command = this.unmatched[0];
    }
    if (command && sameCommand(command, event, this.activator)) {
      this.unmatched.shift();
      this.activator.bind(command, event.eventId);
      return;
    }
    if (event.eventType === 'MarkerRecorded' && event.attributes.markerName === PATCH_MARKER)
      return;
    throw new DeterminismViolationError(
      `${this.where()}: history event ${event.eventId} is ${describeEvent(event)}, but the workflow code ${
        command ? `now made ${describeCommand(command)}` : 'made no matching command'
      }. Deploy code that makes the same commands for existing runs (or branch on patched()).`,
    );
  }

  private assertAllMatched(next: HistoryEvent): void {
    while (
      this.unmatched[0] &&
      isPatchMarker(this.unmatched[0]) &&
      this.unmatched[0].attributes.details.deprecated === true
    )
      this.unmatched.shift();
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

/** The updates accepted and patches recorded by the workflow task completed at `completedEventId`. */
function lookAhead(
  history: HistoryEvent[],
  from: number,
  completedEventId: number,
): { updates: UpdateRequest[]; patches: string[] } {
  const updates: UpdateRequest[] = [];
  const patches: string[] = [];
  for (let j = from; j < history.length; j++) {
    const e = history[j]!;
    if (!COMMAND_EVENT_TYPES.has(e.eventType)) continue;
    if (
      (e.attributes as { workflowTaskCompletedEventId?: number }).workflowTaskCompletedEventId !==
      completedEventId
    )
      break;
    if (e.eventType === 'WorkflowExecutionUpdateAccepted') {
      updates.push({
        updateId: e.attributes.updateId,
        name: e.attributes.name,
        input: e.attributes.input,
      });
    } else if (e.eventType === 'MarkerRecorded' && e.attributes.markerName === PATCH_MARKER) {
      patches.push(String(e.attributes.details.patchId));
    }
  }
  return { updates, patches };
}

/** Commands that become history events (an update rejection does not). */
function recorded(command: Command): boolean {
  return command.commandType !== 'RejectWorkflowUpdate';
}

function isPatchMarker(command: Command): command is Command<'RecordMarker'> {
  return command.commandType === 'RecordMarker' && command.attributes.markerName === PATCH_MARKER;
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
    case 'ContinueAsNewWorkflowExecution':
      return event.eventType === 'WorkflowExecutionContinuedAsNew';
    case 'StartChildWorkflowExecution':
      return (
        event.eventType === 'StartChildWorkflowExecutionInitiated' &&
        event.attributes.workflowType === command.attributes.workflowType &&
        event.attributes.workflowId === command.attributes.workflowId
      );
    case 'SignalExternalWorkflowExecution':
      return (
        event.eventType === 'SignalExternalWorkflowExecutionInitiated' &&
        event.attributes.workflowId === command.attributes.workflowId &&
        event.attributes.signalName === command.attributes.signalName
      );
    case 'RequestCancelExternalWorkflowExecution':
      return (
        event.eventType === 'RequestCancelExternalWorkflowExecutionInitiated' &&
        event.attributes.workflowId === command.attributes.workflowId
      );
    case 'UpsertWorkflowSearchAttributes':
      return event.eventType === 'UpsertWorkflowSearchAttributes';
    case 'ModifyWorkflowProperties':
      return event.eventType === 'WorkflowPropertiesModified';
    case 'RecordMarker':
      return (
        event.eventType === 'MarkerRecorded' &&
        event.attributes.markerName === command.attributes.markerName &&
        (command.attributes.markerName !== PATCH_MARKER ||
          event.attributes.details.patchId === command.attributes.details.patchId)
      );
    case 'AcceptWorkflowUpdate':
      return (
        event.eventType === 'WorkflowExecutionUpdateAccepted' &&
        event.attributes.updateId === command.attributes.updateId
      );
    case 'CompleteWorkflowUpdate':
      return (
        event.eventType === 'WorkflowExecutionUpdateCompleted' &&
        event.attributes.updateId === command.attributes.updateId
      );
    case 'RejectWorkflowUpdate':
      return false;
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
    case 'StartChildWorkflowExecution':
      return `StartChildWorkflowExecution (workflowType '${command.attributes.workflowType}', workflowId '${command.attributes.workflowId}')`;
    case 'SignalExternalWorkflowExecution':
      return `SignalExternalWorkflowExecution (signal '${command.attributes.signalName}' to '${command.attributes.workflowId}')`;
    case 'RecordMarker':
      return `RecordMarker (${command.attributes.markerName} ${JSON.stringify(command.attributes.details)})`;
    case 'AcceptWorkflowUpdate':
    case 'CompleteWorkflowUpdate':
      return `${command.commandType} (updateId '${command.attributes.updateId}')`;
    default:
      return command.commandType;
  }
}

function describeEvent(event: HistoryEvent): string {
  switch (event.eventType) {
    case 'ActivityTaskScheduled':
      return `ActivityTaskScheduled (activityType '${event.attributes.activityType}', activityId '${event.attributes.activityId}')`;
    case 'TimerStarted':
    case 'TimerCanceled':
      return `${event.eventType} (timerId '${event.attributes.timerId}')`;
    case 'ActivityTaskCancelRequested':
      return `ActivityTaskCancelRequested (scheduledEventId ${event.attributes.scheduledEventId})`;
    case 'StartChildWorkflowExecutionInitiated':
      return `StartChildWorkflowExecutionInitiated (workflowType '${event.attributes.workflowType}', workflowId '${event.attributes.workflowId}')`;
    case 'MarkerRecorded':
      return `MarkerRecorded (${event.attributes.markerName} ${JSON.stringify(event.attributes.details)})`;
    case 'WorkflowExecutionUpdateAccepted':
    case 'WorkflowExecutionUpdateCompleted':
      return `${event.eventType} (updateId '${event.attributes.updateId}')`;
    default:
      return event.eventType;
  }
}
