/**
 * History events: the durable record of a workflow run. Names, meanings and attributes follow
 * Temporal's event model; durations are milliseconds and times are epoch milliseconds.
 */
import type { CompiledRetryPolicy } from '../common/retry-policy.ts';
import type { FailureInfo } from '../common/failure-converter.ts';
import type { RetryState } from '../common/failure.ts';

export interface EventAttributes {
  WorkflowExecutionStarted: {
    workflowType: string;
    taskQueue: string;
    input: unknown[];
    workflowId: string;
    /** Whole-chain timeout; carried over to later runs. */
    workflowExecutionTimeout?: number;
    workflowRunTimeout?: number;
    workflowTaskTimeout: number;
    firstExecutionRunId: string;
    attempt: number;
    identity?: string;
  };
  WorkflowTaskScheduled: { taskQueue: string; startToCloseTimeout: number; attempt: number };
  WorkflowTaskStarted: { scheduledEventId: number; identity: string };
  WorkflowTaskCompleted: {
    scheduledEventId: number;
    startedEventId: number;
    identity: string;
    /** Engine behaviours in force when this task ran (see `src/workflow/flags.ts`). */
    flags?: number[];
  };
  WorkflowTaskFailed: {
    scheduledEventId: number;
    startedEventId: number;
    cause: WorkflowTaskFailedCause;
    failure: FailureInfo;
    identity: string;
  };
  WorkflowTaskTimedOut: {
    scheduledEventId: number;
    startedEventId: number;
    timeoutType: 'START_TO_CLOSE';
  };
  ActivityTaskScheduled: {
    activityId: string;
    activityType: string;
    taskQueue: string;
    input: unknown[];
    scheduleToCloseTimeout?: number;
    scheduleToStartTimeout?: number;
    startToCloseTimeout: number;
    heartbeatTimeout?: number;
    retryPolicy: CompiledRetryPolicy;
    workflowTaskCompletedEventId: number;
  };
  ActivityTaskStarted: {
    scheduledEventId: number;
    identity: string;
    attempt: number;
    lastFailure?: FailureInfo;
  };
  ActivityTaskCompleted: {
    scheduledEventId: number;
    startedEventId: number;
    result?: unknown;
    identity: string;
  };
  ActivityTaskFailed: {
    scheduledEventId: number;
    startedEventId: number;
    failure: FailureInfo;
    retryState: RetryState;
    identity: string;
  };
  ActivityTaskTimedOut: {
    scheduledEventId: number;
    /** 0 when the activity timed out before any attempt started. */
    startedEventId: number;
    failure: FailureInfo;
    retryState: RetryState;
  };
  ActivityTaskCancelRequested: { scheduledEventId: number; workflowTaskCompletedEventId: number };
  ActivityTaskCanceled: {
    scheduledEventId: number;
    startedEventId: number;
    latestCancelRequestedEventId: number;
    details?: unknown[];
    identity?: string;
  };
  TimerStarted: {
    timerId: string;
    startToFireTimeout: number;
    workflowTaskCompletedEventId: number;
  };
  TimerFired: { timerId: string; startedEventId: number };
  TimerCanceled: { timerId: string; startedEventId: number; workflowTaskCompletedEventId: number };
  WorkflowExecutionCompleted: { result?: unknown; workflowTaskCompletedEventId: number };
  WorkflowExecutionFailed: {
    failure: FailureInfo;
    retryState: RetryState;
    workflowTaskCompletedEventId: number;
  };
  WorkflowExecutionTimedOut: { retryState: RetryState; timeoutType: 'RUN' | 'EXECUTION' };
  WorkflowExecutionCancelRequested: { cause?: string; identity?: string };
  WorkflowExecutionCanceled: { details?: unknown[]; workflowTaskCompletedEventId: number };
  WorkflowExecutionTerminated: { reason?: string; identity?: string };
}

export type EventType = keyof EventAttributes;

/** Why a workflow task failed, as recorded in `WorkflowTaskFailed.cause`. */
export type WorkflowTaskFailedCause =
  'WorkflowWorkerUnhandledFailure' | 'NonDeterministicError' | 'UnknownWorkflowType' | 'BadCommand';

/** One event of a run's history. */
export type HistoryEvent<T extends EventType = EventType> = {
  [K in T]: { eventId: number; eventTime: number; eventType: K; attributes: EventAttributes[K] };
}[T];

/** An event before the store gives it an id: what a transition produces. */
export type NewEvent<T extends EventType = EventType> = {
  [K in T]: { eventType: K; attributes: EventAttributes[K] };
}[T];

/** Events that workflow code causes through commands; replay checks them against the code's commands. */
export const COMMAND_EVENT_TYPES = new Set<EventType>([
  'ActivityTaskScheduled',
  'ActivityTaskCancelRequested',
  'TimerStarted',
  'TimerCanceled',
  'WorkflowExecutionCompleted',
  'WorkflowExecutionFailed',
  'WorkflowExecutionCanceled',
]);

/** Events after which a run is closed. */
export const CLOSING_EVENT_TYPES = new Set<EventType>([
  'WorkflowExecutionCompleted',
  'WorkflowExecutionFailed',
  'WorkflowExecutionTimedOut',
  'WorkflowExecutionCanceled',
  'WorkflowExecutionTerminated',
]);
