import { WorkflowFailedError, WorkflowNotFoundError } from '../common/errors.ts';
import { decodeFailure } from '../common/failure-converter.ts';
import {
  CancelledFailure,
  RetryState,
  TerminatedFailure,
  TimeoutFailure,
  TimeoutType,
} from '../common/failure.ts';
import type { Engine } from '../engine/engine.ts';
import type { ExecutionState } from '../state/execution-state.ts';
import { TaskState } from '../state/tasks.ts';
import { Wakeup } from '../common/wakeup.ts';
import type {
  Workflow,
  WorkflowExecutionDescription,
  WorkflowHistory,
  WorkflowResultType,
} from './types.ts';

/** Fallback poll while waiting for a result, for changes no hint announces. */
const RESULT_POLL_MS = 1000;

/**
 * A handle to a workflow: its result, its state, its history, and the ways to stop it. Works from any
 * process that opens the same store, and across restarts.
 */
export class WorkflowHandle<W extends Workflow = Workflow> {
  /** @internal */
  constructor(
    private readonly engine: Engine,
    readonly workflowId: string,
    /** The run this handle is bound to; undefined follows the latest run of `workflowId`. */
    readonly runId: string | undefined,
    private readonly identity: string,
    private readonly onResultWait?: () => () => void,
  ) {}

  /**
   * Waits for the run to close and returns its result, or throws `WorkflowFailedError` whose `cause`
   * says why it failed, was cancelled, terminated or timed out.
   */
  async result(): Promise<WorkflowResultType<W>> {
    const runId = await this.resolveRunId();
    const stopWaiting = this.onResultWait?.();
    let state: ExecutionState;
    try {
      state = await this.waitForClose(runId);
    } finally {
      stopWaiting?.();
    }
    const [closing] = await this.engine.store.readHistory(runId, state.nextEventId - 1);
    switch (closing?.eventType) {
      case 'WorkflowExecutionCompleted':
        return closing.attributes.result as WorkflowResultType<W>;
      case 'WorkflowExecutionFailed':
        throw new WorkflowFailedError(
          'Workflow execution failed',
          decodeFailure(closing.attributes.failure),
          closing.attributes.retryState,
        );
      case 'WorkflowExecutionCanceled':
        throw new WorkflowFailedError(
          'Workflow execution cancelled',
          new CancelledFailure('Workflow cancelled', closing.attributes.details ?? []),
          RetryState.NON_RETRYABLE_FAILURE,
        );
      case 'WorkflowExecutionTerminated':
        throw new WorkflowFailedError(
          'Workflow execution terminated',
          new TerminatedFailure(closing.attributes.reason ?? 'Workflow terminated'),
          RetryState.NON_RETRYABLE_FAILURE,
        );
      case 'WorkflowExecutionTimedOut':
        throw new WorkflowFailedError(
          `Workflow execution timed out (${closing.attributes.timeoutType.toLowerCase()} timeout)`,
          new TimeoutFailure('Workflow execution timed out', undefined, TimeoutType.START_TO_CLOSE),
          closing.attributes.retryState,
        );
      default:
        throw new Error(
          `Run ${runId} is closed but its last event is ${closing?.eventType ?? 'missing'}.`,
        );
    }
  }

  /** Status, times and pending work of the run. */
  async describe(): Promise<WorkflowExecutionDescription> {
    const runId = await this.resolveRunId();
    const [summary, state, activities] = await Promise.all([
      this.engine.store.findExecution(this.workflowId, runId),
      this.engine.store.getExecution(runId),
      this.engine.store.activityTasks(runId),
    ]);
    if (!summary || !state) throw this.notFound();
    return {
      workflowId: summary.workflowId,
      runId,
      type: summary.workflowType,
      taskQueue: summary.taskQueue,
      status: { name: summary.status },
      startTime: new Date(summary.startTime),
      ...(summary.closeTime !== undefined ? { closeTime: new Date(summary.closeTime) } : {}),
      historyLength: summary.historyLength,
      pendingActivities: activities.map(({ state: taskState, data, expiresAt }) => ({
        activityId: data.activityId,
        activityType: data.activityType,
        state:
          taskState === TaskState.Claimed
            ? 'STARTED'
            : taskState === TaskState.Waiting
              ? 'BACKOFF'
              : 'SCHEDULED',
        attempt: data.attempt,
        ...(data.lastFailure ? { lastFailureMessage: data.lastFailure.message } : {}),
        ...(data.heartbeatDetails !== undefined ? { heartbeatDetails: data.heartbeatDetails } : {}),
        ...(data.startedTime !== undefined ? { lastStartedTime: new Date(data.startedTime) } : {}),
        ...(taskState === TaskState.Waiting && expiresAt !== undefined
          ? { nextAttemptTime: new Date(expiresAt) }
          : {}),
      })),
      ...(state.lastWorkflowTaskFailure
        ? {
            lastWorkflowTaskFailure: {
              ...state.lastWorkflowTaskFailure,
              time: new Date(state.lastWorkflowTaskFailure.time),
            },
          }
        : {}),
    };
  }

  /** The run's full history, in Keel's JSON history format (replayable with `Worker.runReplayHistory`). */
  async fetchHistory(): Promise<WorkflowHistory> {
    const runId = await this.resolveRunId();
    return {
      workflowId: this.workflowId,
      runId,
      events: await this.engine.store.readHistory(runId),
    };
  }

  /** Asks the workflow to cancel: it sees a `CancelledFailure` and may clean up before it closes. */
  async cancel(): Promise<void> {
    await this.engine.requestCancelWorkflow(this.workflowId, this.runId, this.identity);
  }

  /** Closes the run at once; no more of its code runs. */
  async terminate(reason?: string): Promise<void> {
    await this.engine.terminateWorkflow(this.workflowId, this.runId, reason, this.identity);
  }

  private async resolveRunId(): Promise<string> {
    if (this.runId) return this.runId;
    const latest = await this.engine.store.findExecution(this.workflowId);
    if (!latest) throw this.notFound();
    return latest.runId;
  }

  private notFound(): WorkflowNotFoundError {
    return new WorkflowNotFoundError(
      `No workflow with id '${this.workflowId}'${this.runId ? ` and run id '${this.runId}'` : ''} in ${this.engine.store.location}.`,
      this.workflowId,
      this.runId,
    );
  }

  private async waitForClose(runId: string): Promise<ExecutionState> {
    const { store } = this.engine;
    const wakeup = new Wakeup();
    const unsubscribe = store.subscribe((hint) => {
      if ((hint.type === 'run-closed' && hint.runId === runId) || hint.type === 'external-change')
        wakeup.notify();
    });
    try {
      for (;;) {
        wakeup.reset();
        const state = await store.getExecution(runId);
        if (!state) throw this.notFound();
        if (state.status !== 'Running') return state;
        await wakeup.wait(RESULT_POLL_MS);
      }
    } finally {
      unsubscribe();
    }
  }
}
