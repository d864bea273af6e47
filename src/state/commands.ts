/**
 * Commands: what a workflow task asks the engine to do. Workflow code produces them; the engine
 * validates them and turns each into history events (and tasks) in one transaction.
 */
import type { CompiledRetryPolicy } from '../common/retry-policy.ts';
import type { FailureInfo } from '../common/failure-converter.ts';
import type { ParentClosePolicy, UpdateOutcome } from './events.ts';
import type { SearchAttributeValues } from './search-attributes.ts';

export interface CommandAttributes {
  ScheduleActivityTask: {
    activityId: string;
    activityType: string;
    taskQueue: string;
    input: unknown[];
    scheduleToCloseTimeout?: number;
    scheduleToStartTimeout?: number;
    startToCloseTimeout: number;
    heartbeatTimeout?: number;
    retryPolicy: CompiledRetryPolicy;
  };
  RequestCancelActivityTask: { activityId: string };
  StartTimer: { timerId: string; startToFireTimeout: number };
  CancelTimer: { timerId: string };
  CompleteWorkflowExecution: { result?: unknown };
  FailWorkflowExecution: { failure: FailureInfo };
  CancelWorkflowExecution: { details?: unknown[] };
  ContinueAsNewWorkflowExecution: {
    workflowType: string;
    taskQueue: string;
    input: unknown[];
    workflowRunTimeout?: number;
    workflowTaskTimeout?: number;
    memo?: Record<string, unknown>;
    searchAttributes?: SearchAttributeValues;
  };
  StartChildWorkflowExecution: {
    workflowId: string;
    workflowType: string;
    taskQueue: string;
    input: unknown[];
    parentClosePolicy: ParentClosePolicy;
    workflowExecutionTimeout?: number;
    workflowRunTimeout?: number;
    workflowTaskTimeout?: number;
    retryPolicy?: CompiledRetryPolicy;
    memo?: Record<string, unknown>;
    searchAttributes?: SearchAttributeValues;
  };
  SignalExternalWorkflowExecution: {
    workflowId: string;
    runId?: string;
    signalName: string;
    input: unknown[];
    childWorkflowOnly: boolean;
  };
  RequestCancelExternalWorkflowExecution: {
    workflowId: string;
    runId?: string;
    childWorkflowOnly: boolean;
  };
  UpsertWorkflowSearchAttributes: { searchAttributes: SearchAttributeValues };
  ModifyWorkflowProperties: { upsertedMemo: Record<string, unknown> };
  RecordMarker: { markerName: string; details: Record<string, unknown> };
  /** The update passed its validator: recorded, then its handler runs. */
  AcceptWorkflowUpdate: { updateId: string; name: string; input: unknown[] };
  /** The update's validator refused it: nothing is recorded; only the caller learns why. */
  RejectWorkflowUpdate: { updateId: string; failure: FailureInfo };
  CompleteWorkflowUpdate: { updateId: string; outcome: UpdateOutcome };
}

export type CommandType = keyof CommandAttributes;

export type Command<T extends CommandType = CommandType> = {
  [K in T]: { commandType: K; attributes: CommandAttributes[K] };
}[T];

/** The history event each command becomes (RejectWorkflowUpdate becomes none). */
export const EVENT_OF_COMMAND = {
  ScheduleActivityTask: 'ActivityTaskScheduled',
  RequestCancelActivityTask: 'ActivityTaskCancelRequested',
  StartTimer: 'TimerStarted',
  CancelTimer: 'TimerCanceled',
  CompleteWorkflowExecution: 'WorkflowExecutionCompleted',
  FailWorkflowExecution: 'WorkflowExecutionFailed',
  CancelWorkflowExecution: 'WorkflowExecutionCanceled',
  ContinueAsNewWorkflowExecution: 'WorkflowExecutionContinuedAsNew',
  StartChildWorkflowExecution: 'StartChildWorkflowExecutionInitiated',
  SignalExternalWorkflowExecution: 'SignalExternalWorkflowExecutionInitiated',
  RequestCancelExternalWorkflowExecution: 'RequestCancelExternalWorkflowExecutionInitiated',
  UpsertWorkflowSearchAttributes: 'UpsertWorkflowSearchAttributes',
  ModifyWorkflowProperties: 'WorkflowPropertiesModified',
  RecordMarker: 'MarkerRecorded',
  AcceptWorkflowUpdate: 'WorkflowExecutionUpdateAccepted',
  RejectWorkflowUpdate: undefined,
  CompleteWorkflowUpdate: 'WorkflowExecutionUpdateCompleted',
} as const satisfies Record<CommandType, string | undefined>;

export const TERMINAL_COMMAND_TYPES = new Set<CommandType>([
  'CompleteWorkflowExecution',
  'FailWorkflowExecution',
  'CancelWorkflowExecution',
  'ContinueAsNewWorkflowExecution',
]);
