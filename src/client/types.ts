import type { Duration } from '../common/duration.ts';
import type { ExecutionStatus } from '../state/execution-state.ts';
import type { HistoryEvent } from '../state/events.ts';

/** A workflow function, as seen by the client. */
export type Workflow = (...args: any[]) => Promise<unknown>;

/** The result type of workflow `W`. */
export type WorkflowResultType<W extends Workflow> = Awaited<ReturnType<W>>;

interface BaseStartOptions {
  /** Task queue whose workers run the workflow. */
  taskQueue: string;
  /** Business id of the workflow (e.g. `order-42`): at most one run with this id runs at a time. */
  workflowId: string;
  /** Bound on the whole execution. @defaultValue unlimited */
  workflowExecutionTimeout?: Duration;
  /** Bound on one run. @defaultValue unlimited */
  workflowRunTimeout?: Duration;
  /** Bound on one workflow task: a worker that holds it longer is presumed dead. @defaultValue '10s' */
  workflowTaskTimeout?: Duration;
}

/** `args` is required exactly when the workflow takes arguments, and typed by its signature. */
export type WorkflowStartOptions<W extends Workflow = Workflow> = BaseStartOptions &
  (Parameters<W> extends [any, ...any[]]
    ? { args: Parameters<W> | Readonly<Parameters<W>> }
    : { args?: Parameters<W> | Readonly<Parameters<W>> });

export interface PendingActivityDescription {
  activityId: string;
  activityType: string;
  /** SCHEDULED: waiting for a worker; STARTED: an attempt runs; BACKOFF: waiting to retry. */
  state: 'SCHEDULED' | 'STARTED' | 'BACKOFF';
  attempt: number;
  lastFailureMessage?: string;
  heartbeatDetails?: unknown;
  lastStartedTime?: Date;
  nextAttemptTime?: Date;
}

export interface WorkflowExecutionDescription {
  workflowId: string;
  runId: string;
  type: string;
  taskQueue: string;
  status: { name: ExecutionStatus };
  startTime: Date;
  closeTime?: Date;
  historyLength: number;
  pendingActivities: PendingActivityDescription[];
  /** Set while workflow tasks keep failing (a bug, a nondeterminism, an unknown type): why the last attempt failed. */
  lastWorkflowTaskFailure?: { cause: string; message: string; attempt: number; time: Date };
}

/** A run's history, as `fetchHistory()` returns it and replay takes it. */
export interface WorkflowHistory {
  workflowId: string;
  runId: string;
  events: HistoryEvent[];
}
