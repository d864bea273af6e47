import { randomUUID } from 'node:crypto';
import {
  QueryNotRegisteredError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowQueryFailedError,
  WorkflowUpdateFailedError,
} from '../common/errors.ts';
import { decodeFailure } from '../common/failure-converter.ts';
import {
  CancelledFailure,
  RetryState,
  TerminatedFailure,
  TimeoutFailure,
  TimeoutType,
} from '../common/failure.ts';
import { assertPayload } from '../common/payload.ts';
import { Wakeup } from '../common/wakeup.ts';
import type { Engine } from '../engine/engine.ts';
import { HISTORY_FORMAT, HISTORY_FORMAT_VERSION } from '../replay/history-file.ts';
import type {
  QueryDefinition,
  SignalDefinition,
  UpdateDefinition,
} from '../runtime/definitions.ts';
import type { HistoryEvent } from '../state/events.ts';
import type { UpdateState } from '../state/execution-state.ts';
import { TaskState, type TaskRecord } from '../state/tasks.ts';
import type { StoreHint } from '../store/store.ts';
import type { ClientContext } from './client.ts';
import { HintLog } from './hint-log.ts';
import type {
  Workflow,
  WorkflowExecutionDescription,
  WorkflowHistory,
  WorkflowResultType,
} from './types.ts';

/** Fallback poll while waiting, for changes no hint announces (other processes on a network database). */
const POLL_MS = 1000;

/** Until which stage `startUpdate` waits. */
export type WorkflowUpdateStage = 'ACCEPTED' | 'COMPLETED';

export interface UpdateOptions<Args extends any[]> {
  args?: Args;
  /** Deduplicates: the same id on the same run is the same update. @defaultValue a random UUID */
  updateId?: string;
}

/** A handle to one update of a workflow. */
export class WorkflowUpdateHandle<Result> {
  /** @internal */
  constructor(
    private readonly owner: WorkflowHandle,
    readonly updateId: string,
    readonly workflowId: string,
    readonly workflowRunId: string,
  ) {}

  /** The update's result, or `WorkflowUpdateFailedError` if it was rejected or its handler failed. */
  async result(): Promise<Result> {
    return this.owner.waitForUpdate(
      this.workflowRunId,
      this.updateId,
      'COMPLETED',
    ) as Promise<Result>;
  }
}

/**
 * A handle to a workflow: its result, its state, its history, messages to it, and the ways to stop
 * it. Works from any process that opens the same store, and across restarts. Without a bound run id
 * it addresses whichever run of the workflow id is current, and `result()` follows continue-as-new
 * and retries to the last run.
 */
export class WorkflowHandle<W extends Workflow = Workflow> {
  /** @internal */
  constructor(
    private readonly engine: Engine,
    private readonly context: ClientContext,
    readonly workflowId: string,
    /** The run this handle is bound to; undefined follows the current run of `workflowId`. */
    readonly runId: string | undefined,
    /** For a handle from `start()`: the run it started, where `result()` begins following the chain. */
    readonly firstExecutionRunId?: string,
  ) {}

  /**
   * Waits for the workflow to close and returns its result, or throws `WorkflowFailedError` whose
   * `cause` says why it failed, was cancelled, terminated or timed out. Follows the chain of runs
   * (continue-as-new, retries) to the last one.
   */
  async result(): Promise<WorkflowResultType<W>> {
    return this.resultHeard(undefined);
  }

  /**
   * @internal `result()`; with `log`, begun before the run started, the first run's close is
   * noticed without reading first (and, when its hint carries the outcome, without any read).
   */
  async resultHeard(log: HintLog | undefined): Promise<WorkflowResultType<W>> {
    let runId = this.runId ?? this.firstExecutionRunId ?? (await this.currentRunId());
    const stopWaiting = this.context.onResultWait?.();
    try {
      for (;;) {
        const { closing } = await this.waitFor(
          () => this.engine.store.getOutcome(runId),
          (outcome) => (outcome.status !== 'Running' ? outcome : undefined),
          (h) => h.type === 'run-closed' && h.runId === runId,
          { carried: (h) => (h.type === 'run-closed' ? h.outcome : undefined), log },
        );
        const next = closing && nextRunOf(closing);
        if (next) {
          // The next run may have closed before the log was narrowed to it: it is read first.
          log = undefined;
          runId = next;
          continue;
        }
        return outcomeOf(runId, closing) as WorkflowResultType<W>;
      }
    } finally {
      stopWaiting?.();
    }
  }

  /** Status, times, memo, search attributes and pending work of the run. */
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
      memo: state.memo ?? {},
      searchAttributes: state.searchAttributes ?? {},
      ...(state.parent
        ? { parent: { workflowId: state.parent.workflowId, runId: state.parent.runId } }
        : {}),
      ...(state.newExecutionRunId ? { newExecutionRunId: state.newExecutionRunId } : {}),
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
      format: HISTORY_FORMAT,
      version: HISTORY_FORMAT_VERSION,
      workflowId: this.workflowId,
      runId,
      events: await this.engine.store.readHistory(runId),
    };
  }

  /** Asks the workflow to cancel: it sees a `CancelledFailure` and may clean up before it closes. */
  async cancel(): Promise<void> {
    await this.engine.requestCancelWorkflow(
      this.workflowId,
      this.runId,
      this.context.identity,
      this.firstExecutionRunId,
    );
  }

  /** Closes the run at once; no more of its code runs. */
  async terminate(reason?: string): Promise<void> {
    await this.engine.terminateWorkflow(
      this.workflowId,
      this.runId,
      reason,
      this.context.identity,
      this.firstExecutionRunId,
    );
  }

  /**
   * Sends a signal. Fails with `WorkflowNotFoundError` if the workflow is not running.
   *
   * @example
   * await handle.signal(approve, 'alice');
   */
  async signal<Args extends any[]>(
    definition: SignalDefinition<Args> | string,
    ...args: Args
  ): Promise<void> {
    const name = typeof definition === 'string' ? definition : definition.name;
    assertPayload(args, `the arguments of signal '${name}'`);
    await this.engine.signalWorkflow(
      this.workflowId,
      this.runId,
      name,
      args,
      this.context.identity,
    );
  }

  /**
   * Asks the workflow's query handler, through a worker, without writing anything to the history.
   * Works on closed workflows too (a worker replays them).
   *
   * @example
   * const state = await handle.query(status);
   */
  async query<Result, Args extends any[]>(
    definition: QueryDefinition<Result, Args> | string,
    ...args: Args
  ): Promise<Result> {
    const name = typeof definition === 'string' ? definition : definition.name;
    assertPayload(args, `the arguments of query '${name}'`);
    const { key, runId } = await this.engine.requestQuery(this.workflowId, this.runId, name, args);
    const deadline = Date.now() + this.context.queryTimeoutMs;
    const wakeup = new Wakeup();
    const unsubscribe = this.engine.store.subscribe((hint) => {
      if ((hint.type === 'query-answered' && hint.key === key) || hint.type === 'external-change')
        wakeup.notify();
    });
    try {
      for (;;) {
        wakeup.reset();
        const task = (await this.engine.store.getTask(key)) as TaskRecord<'query'> | undefined;
        const answer = task?.data.answer;
        if (answer) {
          if ('result' in answer) return answer.result as Result;
          const failure = decodeFailure(answer.failure);
          if (answer.failure.applicationFailureInfo?.type === 'QueryNotRegistered')
            throw new QueryNotRegisteredError(failure.message);
          throw new WorkflowQueryFailedError(`Query '${name}' failed: ${failure.message}`, {
            cause: failure,
          });
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          const summary = await this.engine.store.findExecution(this.workflowId, runId);
          throw new WorkflowQueryFailedError(
            `No worker answered query '${name}' of workflow '${this.workflowId}' within ${this.context.queryTimeoutMs} ms. Is a worker running on task queue '${summary?.taskQueue ?? '?'}' with workflow type '${summary?.workflowType ?? '?'}'?`,
          );
        }
        await wakeup.wait(Math.min(left, POLL_MS));
      }
    } finally {
      unsubscribe();
      await this.engine.deleteQuery(key);
    }
  }

  /**
   * Sends an update and waits for its result. The workflow's validator may reject it (nothing is
   * recorded then); an accepted update is recorded and its result returned, after restarts too.
   *
   * @example
   * const total = await handle.executeUpdate(setAmount, { args: [12_500], updateId: 'req-7' });
   */
  async executeUpdate<Result, Args extends any[]>(
    definition: UpdateDefinition<Result, Args> | string,
    options: UpdateOptions<Args> = {},
  ): Promise<Result> {
    const handle = await this.startUpdate(definition, { ...options, waitForStage: 'COMPLETED' });
    return handle.result();
  }

  /** Sends an update and returns its handle once it reached `waitForStage` (accepted, or completed). */
  async startUpdate<Result, Args extends any[]>(
    definition: UpdateDefinition<Result, Args> | string,
    options: UpdateOptions<Args> & { waitForStage: WorkflowUpdateStage },
  ): Promise<WorkflowUpdateHandle<Result>> {
    const name = typeof definition === 'string' ? definition : definition.name;
    const args = [...(options.args ?? [])];
    assertPayload(args, `the arguments of update '${name}'`);
    const updateId = options.updateId ?? randomUUID();
    const { runId } = await this.engine.requestUpdate(this.workflowId, this.runId, {
      updateId,
      name,
      input: args,
      identity: this.context.identity,
    });
    await this.waitForUpdate(runId, updateId, options.waitForStage);
    return new WorkflowUpdateHandle<Result>(
      this as WorkflowHandle,
      updateId,
      this.workflowId,
      runId,
    );
  }

  /** A handle to an update sent before (by its id). */
  getUpdateHandle<Result>(updateId: string, runId?: string): WorkflowUpdateHandle<Result> {
    const owner = this as WorkflowHandle;
    return new WorkflowUpdateHandle<Result>(
      owner,
      updateId,
      this.workflowId,
      runId ?? this.runId ?? '',
    );
  }

  /** @internal waits for the update to reach `stage`; returns its result when completed */
  async waitForUpdate(
    runId: string,
    updateId: string,
    stage: WorkflowUpdateStage,
  ): Promise<unknown> {
    const target = runId || (await this.currentRunId());
    const update = await this.waitFor(
      () => this.engine.store.getExecution(target),
      (state) => {
        const u = state.updates?.[updateId];
        if (!u)
          throw new WorkflowNotFoundError(
            `Workflow '${this.workflowId}' has no update with id '${updateId}'.`,
            this.workflowId,
            target,
          );
        const reached =
          u.stage === 'completed' ||
          u.stage === 'rejected' ||
          (stage === 'ACCEPTED' && u.stage === 'accepted');
        return reached ? u : undefined;
      },
      (hint) => hint.type === 'run-updated' && hint.runId === target,
    );
    if (update.stage === 'completed' && !update.outcome && update.completedEventId) {
      // An older update: the run keeps only recent outcomes, the history has them all.
      const [event] = await this.engine.store.readHistory(target, update.completedEventId);
      if (event?.eventType === 'WorkflowExecutionUpdateCompleted')
        update.outcome = event.attributes.outcome;
    }
    return updateResult(updateId, update);
  }

  private async resolveRunId(): Promise<string> {
    return this.runId ?? (await this.currentRunId());
  }

  private async currentRunId(): Promise<string> {
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

  /**
   * Waits until `probe` returns a value for the run: reads it (with `read`), then again on each
   * `relevant` hint, or takes it from the hint when `carried` finds it there; polls as a fallback.
   * With a `log` begun before the awaited change could happen, the first read is skipped.
   */
  private async waitFor<R, T>(
    read: () => Promise<R | undefined>,
    probe: (run: R) => T | undefined,
    relevant: (hint: StoreHint) => boolean,
    options: { carried?: (hint: StoreHint) => R | undefined; log?: HintLog | undefined } = {},
  ): Promise<T> {
    const log = options.log ?? new HintLog(this.engine.store, relevant);
    log.only(relevant);
    try {
      let mustRead = !options.log;
      for (;;) {
        if (mustRead) {
          log.take(); // what was heard so far, the read sees
          const run = await read();
          if (!run) throw this.notFound();
          const value = probe(run);
          if (value !== undefined) return value;
        }
        mustRead = !(await log.wait(POLL_MS));
        for (const hint of log.take()) {
          const run = hint.type === 'external-change' ? undefined : options.carried?.(hint);
          if (run === undefined) {
            mustRead = true;
            continue;
          }
          const value = probe(run);
          if (value !== undefined) return value;
        }
      }
    } finally {
      if (!options.log) log.close();
    }
  }
}

/** The run a closing event hands over to (continue-as-new, or a retry), if any. */
function nextRunOf(closing: HistoryEvent): string | undefined {
  switch (closing.eventType) {
    case 'WorkflowExecutionContinuedAsNew':
      return closing.attributes.newExecutionRunId;
    case 'WorkflowExecutionFailed':
    case 'WorkflowExecutionTimedOut':
      return closing.attributes.newExecutionRunId;
    default:
      return undefined;
  }
}

function outcomeOf(runId: string, closing: HistoryEvent | undefined): unknown {
  switch (closing?.eventType) {
    case 'WorkflowExecutionCompleted':
      return closing.attributes.result;
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

function updateResult(updateId: string, update: UpdateState): unknown {
  if (update.stage === 'rejected') {
    const cause = decodeFailure(update.rejection ?? { message: 'rejected' });
    throw new WorkflowUpdateFailedError(
      `Update '${update.name}' (${updateId}) was rejected: ${cause.message}`,
      cause,
    );
  }
  if (update.stage !== 'completed' || !update.outcome) return undefined;
  if ('success' in update.outcome) return update.outcome.success;
  const cause = decodeFailure(update.outcome.failure);
  throw new WorkflowUpdateFailedError(
    `Update '${update.name}' (${updateId}) failed: ${cause.message}`,
    cause,
  );
}
