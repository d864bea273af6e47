/**
 * Hand-built histories for replay tests: each helper appends the events the engine would write, with
 * contiguous ids, so a test reads like the run's story.
 */
import { compileRetryPolicy } from '../../src/common/retry-policy.ts';
import type { FailureInfo } from '../../src/common/failure-converter.ts';
import type { Command } from '../../src/state/commands.ts';
import type { EventAttributes, EventType, HistoryEvent } from '../../src/state/events.ts';
import type { WorkflowFunction } from '../../src/runtime/activator.ts';
import type { WorkflowLogger } from '../../src/runtime/workflow-info.ts';
import { WorkflowRunner } from '../../src/runtime/workflow-runner.ts';

export const START_TIME = 1_700_000_000_000;

export class HistoryBuilder {
  readonly events: HistoryEvent[] = [];
  time: number;
  private lastScheduled = 0;
  private lastStarted = 0;

  constructor(
    options: { workflowType?: string; input?: unknown[]; taskQueue?: string } = {},
    startTime = START_TIME,
  ) {
    this.time = startTime;
    this.add('WorkflowExecutionStarted', {
      workflowType: options.workflowType ?? 'testWorkflow',
      taskQueue: options.taskQueue ?? 'main',
      input: options.input ?? [],
      workflowId: 'wf-1',
      workflowTaskTimeout: 10_000,
      firstExecutionRunId: 'run-1',
      attempt: 1,
    });
  }

  get nextEventId(): number {
    return this.events.length + 1;
  }

  add<T extends EventType>(eventType: T, attributes: EventAttributes[T], time = this.time): number {
    const eventId = this.nextEventId;
    this.events.push({ eventId, eventTime: time, eventType, attributes } as HistoryEvent);
    return eventId;
  }

  /** Moves the clock forward. */
  at(time: number): this {
    this.time = time;
    return this;
  }

  /** WorkflowTaskScheduled + WorkflowTaskStarted at `time`; returns the Started id (the task to run). */
  task(time = this.time): number {
    this.time = time;
    this.lastScheduled = this.add('WorkflowTaskScheduled', {
      taskQueue: 'main',
      startToCloseTimeout: 10_000,
      attempt: 1,
    });
    this.lastStarted = this.add('WorkflowTaskStarted', {
      scheduledEventId: this.lastScheduled,
      identity: 'worker',
    });
    return this.lastStarted;
  }

  /** WorkflowTaskCompleted of the last task; returns its id (commands link to it). */
  completed(): number {
    return this.add('WorkflowTaskCompleted', {
      scheduledEventId: this.lastScheduled,
      startedEventId: this.lastStarted,
      identity: 'worker',
    });
  }

  failed(): number {
    return this.add('WorkflowTaskFailed', {
      scheduledEventId: this.lastScheduled,
      startedEventId: this.lastStarted,
      cause: 'WorkflowWorkerUnhandledFailure',
      failure: { message: 'boom' },
      identity: 'worker',
    });
  }

  activityScheduled(activityId: string, activityType: string, input: unknown[] = []): number {
    return this.add('ActivityTaskScheduled', {
      activityId,
      activityType,
      taskQueue: 'main',
      input,
      startToCloseTimeout: 10_000,
      retryPolicy: compileRetryPolicy(),
      workflowTaskCompletedEventId: this.lastCompletedId(),
    });
  }

  activityCompleted(scheduledEventId: number, result?: unknown): number {
    const startedEventId = this.activityStarted(scheduledEventId);
    return this.add('ActivityTaskCompleted', {
      scheduledEventId,
      startedEventId,
      identity: 'activity-worker',
      ...(result === undefined ? {} : { result }),
    });
  }

  activityFailed(scheduledEventId: number, failure: FailureInfo): number {
    const startedEventId = this.activityStarted(scheduledEventId);
    return this.add('ActivityTaskFailed', {
      scheduledEventId,
      startedEventId,
      failure,
      retryState: 'MAXIMUM_ATTEMPTS_REACHED',
      identity: 'activity-worker',
    });
  }

  activityTimedOut(scheduledEventId: number, failure: FailureInfo): number {
    const startedEventId = this.activityStarted(scheduledEventId);
    return this.add('ActivityTaskTimedOut', {
      scheduledEventId,
      startedEventId,
      failure,
      retryState: 'MAXIMUM_ATTEMPTS_REACHED',
    });
  }

  activityCancelRequested(scheduledEventId: number): number {
    return this.add('ActivityTaskCancelRequested', {
      scheduledEventId,
      workflowTaskCompletedEventId: this.lastCompletedId(),
    });
  }

  activityCanceled(scheduledEventId: number, requestedId: number, details?: unknown[]): number {
    const startedEventId = this.activityStarted(scheduledEventId);
    return this.add('ActivityTaskCanceled', {
      scheduledEventId,
      startedEventId,
      latestCancelRequestedEventId: requestedId,
      ...(details ? { details } : {}),
    });
  }

  timerStarted(timerId: string, ms: number): number {
    return this.add('TimerStarted', {
      timerId,
      startToFireTimeout: ms,
      workflowTaskCompletedEventId: this.lastCompletedId(),
    });
  }

  timerFired(timerId: string, startedEventId: number): number {
    return this.add('TimerFired', { timerId, startedEventId });
  }

  timerCanceled(timerId: string, startedEventId: number): number {
    return this.add('TimerCanceled', {
      timerId,
      startedEventId,
      workflowTaskCompletedEventId: this.lastCompletedId(),
    });
  }

  cancelRequested(): number {
    return this.add('WorkflowExecutionCancelRequested', {});
  }

  workflowCompleted(result?: unknown): number {
    return this.add('WorkflowExecutionCompleted', {
      ...(result === undefined ? {} : { result }),
      workflowTaskCompletedEventId: this.lastCompletedId(),
    });
  }

  /** A copy of the history so far. */
  snapshot(): HistoryEvent[] {
    return structuredClone(this.events);
  }

  private activityStarted(scheduledEventId: number): number {
    return this.add('ActivityTaskStarted', {
      scheduledEventId,
      identity: 'activity-worker',
      attempt: 1,
    });
  }

  private lastCompletedId(): number {
    for (let i = this.events.length - 1; i >= 0; i--)
      if (this.events[i]!.eventType === 'WorkflowTaskCompleted') return this.events[i]!.eventId;
    throw new Error('no WorkflowTaskCompleted yet');
  }
}

export const silentLogger: WorkflowLogger = { log: () => undefined };

export function newRunner(
  workflow: WorkflowFunction,
  history: HistoryEvent[],
  runId = 'run-1',
  logger: WorkflowLogger = silentLogger,
): WorkflowRunner {
  return new WorkflowRunner(workflow, WorkflowRunner.infoFrom(history[0]!, runId), logger);
}

/** Id of the last WorkflowTaskStarted in `history`. */
export function lastStartedId(history: HistoryEvent[]): number {
  const started = history.findLast((e) => e.eventType === 'WorkflowTaskStarted');
  if (!started) throw new Error('history has no WorkflowTaskStarted');
  return started.eventId;
}

/** Runs the task that ends `history` on `runner`. */
export function runTask(runner: WorkflowRunner, history: HistoryEvent[]): Promise<Command[]> {
  return runner.runTask({ startedEventId: lastStartedId(history), history });
}

/** A fresh runner replaying `history` up to its last WorkflowTaskStarted. */
export function replay(
  workflow: WorkflowFunction,
  history: HistoryEvent[],
  runId = 'run-1',
): Promise<Command[]> {
  return runTask(newRunner(workflow, history, runId), history);
}

export const commandTypes = (commands: Command[]): string[] => commands.map((c) => c.commandType);
