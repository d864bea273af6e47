/**
 * History events: the durable record of a workflow run. Names, meanings and attributes follow
 * Temporal's event model; durations are milliseconds and times are epoch milliseconds.
 */
import type { CompiledRetryPolicy } from '../common/retry-policy.ts';
import type { FailureInfo } from '../common/failure-converter.ts';
import type { RetryState } from '../common/failure.ts';
import type { SearchAttributeValues } from './search-attributes.ts';

/** Who a child belongs to, as recorded in the child's first event. */
export interface ParentInfo {
  workflowId: string;
  runId: string;
  /** The parent's StartChildWorkflowExecutionInitiated event. */
  initiatedEventId: number;
}

export type ParentClosePolicy = 'TERMINATE' | 'REQUEST_CANCEL' | 'ABANDON';

/** What the outcome of an update is: a result or a failure. */
export type UpdateOutcome = { success: unknown } | { failure: FailureInfo };

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
    parent?: ParentInfo;
    parentClosePolicy?: ParentClosePolicy;
    /** The run this one continues (continue-as-new or a retry). */
    continuedExecutionRunId?: string;
    initiator?: 'ContinueAsNew' | 'Retry';
    /** Failure of the previous run when this run is a retry of it. */
    continuedFailure?: FailureInfo;
    /** Deadline of the whole execution (all runs), epoch ms. */
    workflowExecutionExpirationTime?: number;
    /** The workflow's own retry policy (retries of failed runs). */
    retryPolicy?: CompiledRetryPolicy;
    /** The first workflow task waits this long (a retry's backoff). */
    firstWorkflowTaskBackoff?: number;
    memo?: Record<string, unknown>;
    searchAttributes?: SearchAttributeValues;
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
    /** Set when the workflow's retry policy starts another run. */
    newExecutionRunId?: string;
  };
  WorkflowExecutionTimedOut: {
    retryState: RetryState;
    timeoutType: 'RUN' | 'EXECUTION';
    newExecutionRunId?: string;
  };
  WorkflowExecutionCancelRequested: { cause?: string; identity?: string };
  WorkflowExecutionCanceled: { details?: unknown[]; workflowTaskCompletedEventId: number };
  WorkflowExecutionTerminated: { reason?: string; identity?: string };
  WorkflowExecutionContinuedAsNew: {
    newExecutionRunId: string;
    workflowType: string;
    taskQueue: string;
    input: unknown[];
    workflowRunTimeout?: number;
    workflowTaskTimeout: number;
    workflowTaskCompletedEventId: number;
  };
  WorkflowExecutionSignaled: { signalName: string; input: unknown[]; identity?: string };
  WorkflowExecutionUpdateAccepted: {
    updateId: string;
    name: string;
    input: unknown[];
    identity?: string;
    workflowTaskCompletedEventId: number;
  };
  WorkflowExecutionUpdateCompleted: {
    updateId: string;
    acceptedEventId: number;
    outcome: UpdateOutcome;
    workflowTaskCompletedEventId: number;
  };
  StartChildWorkflowExecutionInitiated: {
    workflowId: string;
    workflowType: string;
    taskQueue: string;
    input: unknown[];
    parentClosePolicy: ParentClosePolicy;
    workflowExecutionTimeout?: number;
    workflowRunTimeout?: number;
    workflowTaskTimeout: number;
    retryPolicy?: CompiledRetryPolicy;
    memo?: Record<string, unknown>;
    searchAttributes?: SearchAttributeValues;
    workflowTaskCompletedEventId: number;
  };
  StartChildWorkflowExecutionFailed: {
    workflowId: string;
    workflowType: string;
    initiatedEventId: number;
    cause: 'WorkflowAlreadyExists';
  };
  ChildWorkflowExecutionStarted: {
    workflowId: string;
    runId: string;
    workflowType: string;
    initiatedEventId: number;
  };
  ChildWorkflowExecutionCompleted: ChildOutcomeBase & { result?: unknown };
  ChildWorkflowExecutionFailed: ChildOutcomeBase & { failure: FailureInfo; retryState: RetryState };
  ChildWorkflowExecutionCanceled: ChildOutcomeBase & { details?: unknown[] };
  ChildWorkflowExecutionTimedOut: ChildOutcomeBase & { retryState: RetryState };
  ChildWorkflowExecutionTerminated: ChildOutcomeBase & { reason?: string };
  SignalExternalWorkflowExecutionInitiated: {
    workflowId: string;
    runId?: string;
    signalName: string;
    input: unknown[];
    childWorkflowOnly: boolean;
    workflowTaskCompletedEventId: number;
  };
  ExternalWorkflowExecutionSignaled: {
    initiatedEventId: number;
    workflowId: string;
    runId: string;
  };
  SignalExternalWorkflowExecutionFailed: {
    initiatedEventId: number;
    workflowId: string;
    runId?: string;
    cause: 'ExternalWorkflowExecutionNotFound';
  };
  RequestCancelExternalWorkflowExecutionInitiated: {
    workflowId: string;
    runId?: string;
    childWorkflowOnly: boolean;
    workflowTaskCompletedEventId: number;
  };
  ExternalWorkflowExecutionCancelRequested: {
    initiatedEventId: number;
    workflowId: string;
    runId: string;
  };
  RequestCancelExternalWorkflowExecutionFailed: {
    initiatedEventId: number;
    workflowId: string;
    runId?: string;
    cause: 'ExternalWorkflowExecutionNotFound';
  };
  UpsertWorkflowSearchAttributes: {
    searchAttributes: SearchAttributeValues;
    workflowTaskCompletedEventId: number;
  };
  WorkflowPropertiesModified: {
    upsertedMemo: Record<string, unknown>;
    workflowTaskCompletedEventId: number;
  };
  MarkerRecorded: {
    markerName: string;
    details: Record<string, unknown>;
    workflowTaskCompletedEventId: number;
  };
}

interface ChildOutcomeBase {
  workflowId: string;
  runId: string;
  workflowType: string;
  initiatedEventId: number;
  startedEventId: number;
}

export type EventType = keyof EventAttributes;

/** Every event type, for validating histories read from files. */
export const EVENT_TYPES = [
  'WorkflowExecutionStarted',
  'WorkflowTaskScheduled',
  'WorkflowTaskStarted',
  'WorkflowTaskCompleted',
  'WorkflowTaskFailed',
  'WorkflowTaskTimedOut',
  'ActivityTaskScheduled',
  'ActivityTaskStarted',
  'ActivityTaskCompleted',
  'ActivityTaskFailed',
  'ActivityTaskTimedOut',
  'ActivityTaskCancelRequested',
  'ActivityTaskCanceled',
  'TimerStarted',
  'TimerFired',
  'TimerCanceled',
  'WorkflowExecutionCompleted',
  'WorkflowExecutionFailed',
  'WorkflowExecutionTimedOut',
  'WorkflowExecutionCancelRequested',
  'WorkflowExecutionCanceled',
  'WorkflowExecutionTerminated',
  'WorkflowExecutionContinuedAsNew',
  'WorkflowExecutionSignaled',
  'WorkflowExecutionUpdateAccepted',
  'WorkflowExecutionUpdateCompleted',
  'StartChildWorkflowExecutionInitiated',
  'StartChildWorkflowExecutionFailed',
  'ChildWorkflowExecutionStarted',
  'ChildWorkflowExecutionCompleted',
  'ChildWorkflowExecutionFailed',
  'ChildWorkflowExecutionCanceled',
  'ChildWorkflowExecutionTimedOut',
  'ChildWorkflowExecutionTerminated',
  'SignalExternalWorkflowExecutionInitiated',
  'ExternalWorkflowExecutionSignaled',
  'SignalExternalWorkflowExecutionFailed',
  'RequestCancelExternalWorkflowExecutionInitiated',
  'ExternalWorkflowExecutionCancelRequested',
  'RequestCancelExternalWorkflowExecutionFailed',
  'UpsertWorkflowSearchAttributes',
  'WorkflowPropertiesModified',
  'MarkerRecorded',
] as const satisfies readonly EventType[];

// Compile-time check that the list above names every event type.
type MissingEventTypes = Exclude<EventType, (typeof EVENT_TYPES)[number]>;
const everyEventTypeListed: MissingEventTypes extends never ? true : MissingEventTypes = true;
void everyEventTypeListed;

/** Why a workflow task failed, as recorded in `WorkflowTaskFailed.cause`. */
export type WorkflowTaskFailedCause =
  | 'WorkflowWorkerUnhandledFailure'
  | 'NonDeterministicError'
  | 'UnknownWorkflowType'
  | 'BadCommand'
  /** The workflow tried to close while signals or updates it had not seen were waiting. */
  | 'UnhandledCommand';

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
  'WorkflowExecutionContinuedAsNew',
  'WorkflowExecutionUpdateAccepted',
  'WorkflowExecutionUpdateCompleted',
  'StartChildWorkflowExecutionInitiated',
  'SignalExternalWorkflowExecutionInitiated',
  'RequestCancelExternalWorkflowExecutionInitiated',
  'UpsertWorkflowSearchAttributes',
  'WorkflowPropertiesModified',
  'MarkerRecorded',
]);

/** Events after which a run is closed. */
export const CLOSING_EVENT_TYPES = new Set<EventType>([
  'WorkflowExecutionCompleted',
  'WorkflowExecutionFailed',
  'WorkflowExecutionTimedOut',
  'WorkflowExecutionCanceled',
  'WorkflowExecutionTerminated',
  'WorkflowExecutionContinuedAsNew',
]);
