/**
 * The mutable state of one workflow run: what the engine needs to decide the next transition
 * without reading the history. Stored as one JSON document next to the run's visibility columns.
 *
 * Run status transitions: Running → Completed | Failed | Canceled | Terminated | TimedOut |
 * ContinuedAsNew; a closed run never changes again (every transition checks `isRunning`).
 */
import type { CompiledRetryPolicy } from '../common/retry-policy.ts';
import type { FailureInfo } from '../common/failure-converter.ts';
import type { NewEvent, ParentClosePolicy, ParentInfo, UpdateOutcome } from './events.ts';
import type { SearchAttributeValue } from './search-attributes.ts';

export const ExecutionStatus = {
  Running: 'Running',
  Completed: 'Completed',
  Failed: 'Failed',
  Canceled: 'Canceled',
  Terminated: 'Terminated',
  TimedOut: 'TimedOut',
  ContinuedAsNew: 'ContinuedAsNew',
} as const;
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];

/** The workflow task of a run: at most one is outstanding at a time. */
export interface WorkflowTaskState {
  /** Id of its WorkflowTaskScheduled event; for a transient attempt, the id it will get when written. */
  scheduledEventId: number;
  attempt: number;
  scheduledTime: number;
  /** Set while a worker holds the task. Events that arrive meanwhile are buffered. */
  started?: { time: number; identity: string };
  /** Its Scheduled event is not in the history yet (a retried attempt, a speculative task): written when it completes. */
  transient?: boolean;
  /**
   * Scheduled only to deliver updates: if its worker rejects them all and nothing else happened, it
   * leaves no trace in the history (Temporal's speculative workflow task).
   */
  speculative?: boolean;
  /** Updates handed to the worker with this task. */
  deliveredUpdateIds?: string[];
}

/**
 * Where a run's next workflow task goes first: the queue of the worker that completed its last one
 * and still has it cached (Temporal's sticky queue). A task nobody takes from there within
 * `scheduleToStartTimeout` moves to the run's own task queue, for any worker.
 */
export interface StickyQueue {
  name: string;
  scheduleToStartTimeout: number;
}

export interface PendingActivity {
  scheduledEventId: number;
  activityType: string;
  cancelRequestedEventId?: number;
  /**
   * The activity closed while a workflow task was held: its outcome waits in the buffer. Kept until
   * the buffer is flushed, so that the held task may still ask to cancel it (the code has not seen
   * the outcome yet).
   */
  outcomeBuffered?: boolean;
}

export interface PendingTimer {
  startedEventId: number;
  /** Fired while a workflow task was held; a CancelTimer from that task then wins over the buffered TimerFired. */
  firedBuffered?: boolean;
}

export interface PendingChild {
  workflowId: string;
  workflowType: string;
  parentClosePolicy: ParentClosePolicy;
  /** Known once the child started. */
  runId?: string;
  startedEventId?: number;
}

/** Update lifecycle: admitted (waiting for a worker) → accepted (recorded) → completed; or → rejected (never recorded). */
export interface UpdateState {
  name: string;
  /** Kept only until the update is answered: once accepted it is in the history. */
  input?: unknown[];
  identity?: string;
  stage: 'admitted' | 'accepted' | 'completed' | 'rejected';
  acceptedEventId?: number;
  /** Its WorkflowExecutionUpdateCompleted event (none if it failed because the run closed). */
  completedEventId?: number;
  /** Kept for the most recent completed updates only; older ones are read from the history. */
  outcome?: UpdateOutcome;
  /** Why the validator refused it (stage rejected). */
  rejection?: FailureInfo;
  /** When it was admitted (epoch ms). */
  time?: number;
}

export interface ExecutionState {
  workflowId: string;
  runId: string;
  workflowType: string;
  taskQueue: string;
  status: ExecutionStatus;
  startTime: number;
  closeTime?: number;
  /**
   * Time of the latest event in the history (absent in states written before it was kept: read it
   * with `latestEventTime`). A transaction writing to the run takes no earlier time (see `UnitOfWork`).
   */
  lastEventTime?: number;
  /** Id the next history event will get. */
  nextEventId: number;
  workflowTaskTimeout: number;
  /** WorkflowTaskStarted id of the last completed workflow task (0 if none); lets a worker check that its cached copy is current. */
  lastCompletedStartedEventId: number;
  workflowTask?: WorkflowTaskState;
  /** Set while the worker that completed the last workflow task is expected to have the run cached. */
  sticky?: StickyQueue;
  /** Events that arrived while a workflow task was running, written after its completion (as Temporal does). */
  bufferedEvents: NewEvent[];
  activities: Record<string, PendingActivity>;
  timers: Record<string, PendingTimer>;
  cancelRequested: boolean;
  /** Why the last workflow task attempt failed, until one succeeds: shown by `describe()`. */
  lastWorkflowTaskFailure?: { cause: string; message: string; attempt: number; time: number };
  /** The first run of this execution's chain (continue-as-new and retries keep it). */
  firstExecutionRunId?: string;
  /** Attempt of this run under the workflow's retry policy (1 for the first). */
  attempt?: number;
  retryPolicy?: CompiledRetryPolicy;
  /** The run's arguments, kept only when a retry policy may need them for the next run. */
  input?: unknown[];
  /** Deadline of the whole execution, all runs together (epoch ms). */
  executionExpirationTime?: number;
  workflowRunTimeout?: number;
  parent?: ParentInfo;
  parentClosePolicy?: ParentClosePolicy;
  /** Children by the id of their StartChildWorkflowExecutionInitiated event, until they close. */
  children?: Record<string, PendingChild>;
  /** Signals and cancellation requests sent to other workflows, by initiated event id, until answered. */
  externals?: Record<string, { kind: 'signal' | 'cancel'; workflowId: string; runId?: string }>;
  updates?: Record<string, UpdateState>;
  memo?: Record<string, unknown>;
  searchAttributes?: Record<string, SearchAttributeValue>;
  /** Set when the run closed by continuing as new or being retried: where the chain goes on. */
  newExecutionRunId?: string;
}

/** Time of the run's latest event; states written before `lastEventTime` was kept give their start's. */
export function latestEventTime(state: ExecutionState): number {
  return state.lastEventTime ?? state.startTime;
}

export function isRunning(state: ExecutionState): boolean {
  return state.status === ExecutionStatus.Running;
}
