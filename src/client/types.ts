import type { Duration } from '../common/duration.ts';
import type { RetryPolicy } from '../common/retry-policy.ts';
import type { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '../engine/engine.ts';
import type { SearchAttributeValue, SearchAttributeValues } from '../state/search-attributes.ts';
import type { ExecutionStatus } from '../state/execution-state.ts';

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
  /** Retries of failed (or run-timed-out) runs as new runs. @defaultValue none: a failed run stays failed */
  retry?: RetryPolicy;
  /** Whether a closed workflow's id may be used again. @defaultValue 'ALLOW_DUPLICATE' */
  workflowIdReusePolicy?: WorkflowIdReusePolicy;
  /** What to do if a run with this id is running. @defaultValue 'FAIL' */
  workflowIdConflictPolicy?: WorkflowIdConflictPolicy;
  /** Data shown with the run (not indexed). */
  memo?: Record<string, unknown>;
  /**
   * Typed, indexed attributes for `list()` queries.
   * @example { CustomerId: { type: 'Keyword', value: 'c-42' } }
   */
  searchAttributes?: SearchAttributeValues;
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
  memo: Record<string, unknown>;
  searchAttributes: Record<string, SearchAttributeValue>;
  /** The parent, for a child workflow. */
  parent?: { workflowId: string; runId: string };
  /** Set when the run continued as new or was retried: the next run of the chain. */
  newExecutionRunId?: string;
  /** Set while workflow tasks keep failing (a bug, a nondeterminism, an unknown type): why the last attempt failed. */
  lastWorkflowTaskFailure?: { cause: string; message: string; attempt: number; time: Date };
}

export type { WorkflowHistory } from '../replay/history-file.ts';
