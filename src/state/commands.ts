/**
 * Commands: what a workflow task asks the engine to do. Workflow code produces them; the engine
 * validates them and turns each into history events (and tasks) in one transaction.
 */
import type { CompiledRetryPolicy } from '../common/retry-policy.ts';
import type { FailureInfo } from '../common/failure-converter.ts';

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
}

export type CommandType = keyof CommandAttributes;

export type Command<T extends CommandType = CommandType> = {
  [K in T]: { commandType: K; attributes: CommandAttributes[K] };
}[T];

/** The history event each command becomes. */
export const EVENT_OF_COMMAND = {
  ScheduleActivityTask: 'ActivityTaskScheduled',
  RequestCancelActivityTask: 'ActivityTaskCancelRequested',
  StartTimer: 'TimerStarted',
  CancelTimer: 'TimerCanceled',
  CompleteWorkflowExecution: 'WorkflowExecutionCompleted',
  FailWorkflowExecution: 'WorkflowExecutionFailed',
  CancelWorkflowExecution: 'WorkflowExecutionCanceled',
} as const satisfies Record<CommandType, string>;

export const TERMINAL_COMMAND_TYPES = new Set<CommandType>([
  'CompleteWorkflowExecution',
  'FailWorkflowExecution',
  'CancelWorkflowExecution',
]);
