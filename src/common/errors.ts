/**
 * Errors that are not workflow failures: they report misuse or a state of the engine, and they do
 * not travel through the history (except WorkflowExecutionAlreadyStartedError, see there).
 */
import { KeelFailure, type RetryState } from './failure.ts';

/** The workflow code made different commands on replay than its history recorded. Fails the workflow task, not the run. */
export class DeterminismViolationError extends Error {
  override name = 'DeterminismViolationError';
}

/**
 * A workflow with this id is already running (or its id reuse rules refuse a new run). A failure,
 * as in Temporal: a workflow that does not catch it from `startChild`/`executeChild` fails, rather
 * than retrying a workflow task that can only fail the same way.
 */
export class WorkflowExecutionAlreadyStartedError extends KeelFailure {
  override name = 'WorkflowExecutionAlreadyStartedError';
  constructor(
    message: string,
    public readonly workflowId: string,
    public readonly workflowType: string,
  ) {
    super(message);
  }
}

/** No workflow with this id (and run id) exists in the store. */
export class WorkflowNotFoundError extends Error {
  override name = 'WorkflowNotFoundError';
  constructor(
    message: string,
    public readonly workflowId: string,
    public readonly runId: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Thrown by `handle.result()` when the run did not complete: it failed, was cancelled, terminated or
 * timed out. `cause` says which and why.
 */
export class WorkflowFailedError extends Error {
  override name = 'WorkflowFailedError';
  declare readonly cause: KeelFailure;
  constructor(
    message: string,
    cause: KeelFailure,
    public readonly retryState: RetryState,
  ) {
    super(message, { cause });
  }
}

/** The store cannot be used: not a Keel database, a newer schema, a file that cannot be opened. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** A task was completed by a worker that no longer holds it. */
export class TaskLostError extends Error {
  override name = 'TaskLostError';
  constructor(
    message: string,
    /** `gone`: the task no longer exists (done, or its workflow closed); `expired`: its lease passed and it was timed out or claimed again. */
    public readonly reason: 'gone' | 'expired',
  ) {
    super(message);
  }
}

/** Using a workflow API where it does not belong, e.g. `sleep()` outside workflow code. */
export class IllegalStateError extends Error {
  override name = 'IllegalStateError';
}

/** `handle.query()` named a query the workflow has no handler for. */
export class QueryNotRegisteredError extends Error {
  override name = 'QueryNotRegisteredError';
}

/** A query could not be answered: its handler threw, or no worker answered in time. */
export class WorkflowQueryFailedError extends Error {
  override name = 'WorkflowQueryFailedError';
}

/** An update was rejected by its validator, or its handler failed; `cause` says why. */
export class WorkflowUpdateFailedError extends Error {
  override name = 'WorkflowUpdateFailedError';
  constructor(message: string, cause: Error) {
    super(message, { cause });
  }
}
