/**
 * Runs claimed workflow tasks and queries: finds (or rebuilds by replay) the run's workflow code,
 * feeds it the new history and reports its commands, or fails the task with a cause the history
 * records. Tasks and queries of one run never run at the same time (a lock per run).
 */
import { crashPoint } from '../common/crash-points.ts';
import { DeterminismViolationError, TaskLostError } from '../common/errors.ts';
import { ApplicationFailure } from '../common/failure.ts';
import { encodeFailure, type FailureInfo } from '../common/failure-converter.ts';
import { assertPayload } from '../common/payload.ts';
import type { EagerActivities, Engine, WorkflowTaskOutcome } from '../engine/engine.ts';
import type { RunNow } from '../engine/run-now.ts';
import type { Command } from '../state/commands.ts';
import type { QueryTaskGrant, WorkflowTaskGrant } from '../engine/grants.ts';
import type { WorkflowFunction } from '../runtime/activator.ts';
import type { WorkflowLogger } from '../runtime/workflow-info.ts';
import { WorkflowRunner, type RunnerOptions } from '../runtime/workflow-runner.ts';
import type { HistoryEvent, WorkflowTaskFailedCause } from '../state/events.ts';
import type { Dispatch } from './dispatch.ts';
import { WorkflowCache } from './workflow-cache.ts';
import type { ModuleStateWatch } from './module-state-watch.ts';

/** A new run's task runs inside the claiming transaction only if replaying its history is this short. */
const RUN_NOW_MAX_REPLAY = 100;

/** `history`, preceded by the events the runner's worker already knew of (see `knownAhead`). */
function withKnownAhead(runner: WorkflowRunner, history: HistoryEvent[]): HistoryEvent[] {
  if (runner.knownAhead.length === 0) return history;
  const next = history[0]?.eventId ?? Number.MAX_SAFE_INTEGER;
  return [...runner.knownAhead.filter((e) => e.eventId < next), ...history];
}

/** Runs the task of `grant` on `runner`, given the history it lacks. */
function runTask(
  runner: WorkflowRunner,
  grant: WorkflowTaskGrant,
  history: HistoryEvent[],
): Promise<Command[]> {
  return runner.runTask({
    startedEventId: grant.start.startedEventId,
    history,
    updates: grant.start.updates,
  });
}

export class WorkflowTaskExecutor {
  readonly cache: WorkflowCache;
  private readonly locks = new Map<string, Promise<void>>();

  constructor(
    private readonly engine: Engine,
    private readonly workflows: ReadonlyMap<string, WorkflowFunction>,
    private readonly identity: string,
    private readonly logger: WorkflowLogger,
    maxCachedWorkflows: number,
    private readonly dispatch: Dispatch,
    private readonly runnerOptions: RunnerOptions = {},
    private readonly moduleWatches: ModuleStateWatch[] = [],
  ) {
    this.cache = new WorkflowCache(maxCachedWorkflows);
  }

  /** First history event the worker needs for a run: after what its cached copy has seen or knows. */
  historyFrom = (runId: string): number => {
    const runner = this.cache.get(runId);
    if (!runner) return 1;
    return (runner.knownAhead.at(-1)?.eventId ?? runner.lastEventId) + 1;
  };

  execute(grant: WorkflowTaskGrant): Promise<void> {
    return this.withLock(grant.runId, () => this.executeLocked(grant));
  }

  executeQuery(grant: QueryTaskGrant): Promise<void> {
    return this.withLock(grant.runId, () => this.executeQueryLocked(grant));
  }

  /** Runs `fn` after whatever this worker is doing on the same run. */
  private async withLock(runId: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.locks.get(runId) ?? Promise.resolve();
    const current = previous.then(fn, fn);
    const tail = current.catch(() => undefined);
    this.locks.set(runId, tail);
    try {
      await current;
    } finally {
      if (this.locks.get(runId) === tail) this.locks.delete(runId);
    }
  }

  private unknownType(workflowType: string, taskQueue: string): ApplicationFailure {
    const registered = [...this.workflows.keys()].join(', ') || 'none';
    return ApplicationFailure.create({
      message: `Workflow type '${workflowType}' is not registered on this worker (task queue '${taskQueue}'; registered: ${registered}). The task is retried until a worker that knows the type polls the queue.`,
      type: 'NotFoundError',
    });
  }

  private newRunner(
    workflowType: string,
    runId: string,
    first: HistoryEvent,
  ): WorkflowRunner | undefined {
    const workflow = this.workflows.get(workflowType);
    return (
      workflow &&
      new WorkflowRunner(
        workflow,
        WorkflowRunner.infoFrom(first, runId),
        this.logger,
        this.runnerOptions,
      )
    );
  }

  /**
   * Runs a workflow task the engine claimed in a transaction that is still open, so that the same
   * transaction records its completion (see `RunNow`). Only when that needs no wait and no read:
   * nothing else of the run is in progress here, and the cached copy of the run is current (or the
   * run is new and its history short). Otherwise undefined: the task then runs after the commit, as
   * usual. A failure of the code is recorded in the same transaction, as it would be after it.
   */
  runNow: RunNow = async (grant) => {
    const { runId } = grant;
    if (this.locks.has(runId) || this.cache.capacity <= 0) return undefined;
    const cached = this.cache.get(runId);
    if (cached && cached.lastStartedEventId !== grant.start.previousStartedEventId)
      return undefined;
    const history = cached ? withKnownAhead(cached, grant.history) : grant.history;
    if (cached && (history[0]?.eventId ?? 0) > cached.lastEventId + 1) return undefined;
    if (!cached && (history[0]?.eventId !== 1 || history.length > RUN_NOW_MAX_REPLAY))
      return undefined;
    let runner: WorkflowRunner | undefined;
    try {
      runner = cached ?? this.newRunner(grant.workflowType, runId, history[0]!);
    } catch {
      return undefined; // a malformed history: the ordinary path reports it
    }
    if (!runner) return undefined;
    if (cached) cached.knownAhead = [];
    const release = this.hold(runId);
    let commands: Command[];
    try {
      commands = await runTask(runner, grant, history);
    } catch (error) {
      this.cache.delete(runId);
      return { result: this.taskFailure(grant, error), settle: release };
    }
    for (const watch of this.moduleWatches) watch.check(grant.workflowType);
    crashPoint('workflow-task-before-complete');
    const eager = this.reserveActivities(commands);
    const sticky = this.dispatch.stickyQueue();
    const ran = runner;
    return {
      result: { commands },
      ...(eager ? { eager } : {}),
      ...(sticky ? { sticky } : {}),
      settle: (outcome) => {
        try {
          // Not recorded: the copy ran ahead of the history, and must be rebuilt by replay.
          if (!outcome) this.cache.delete(runId);
          else this.completed(grant, ran, outcome);
        } finally {
          if (eager)
            this.dispatch.releaseActivities(eager.max - (outcome?.eagerActivities.length ?? 0));
          release();
        }
      },
    };
  };

  private async executeLocked(grant: WorkflowTaskGrant): Promise<void> {
    const { runId } = grant;
    let runner = this.cache.get(runId);
    if (runner && runner.lastStartedEventId !== grant.start.previousStartedEventId) {
      // Another worker advanced the run since we cached it (or a query replayed further): start over.
      this.cache.delete(runId);
      runner = undefined;
    }
    let history = runner ? withKnownAhead(runner, grant.history) : grant.history;
    if (runner) runner.knownAhead = [];
    if (runner && (history[0]?.eventId ?? 0) > runner.lastEventId + 1)
      history = await this.fullHistory(grant.runId, history);
    if (!runner) {
      if (history[0]?.eventId !== 1) history = await this.fullHistory(grant.runId, history);
      runner = this.newRunner(grant.workflowType, runId, history[0]!);
      if (!runner) {
        await this.fail(
          grant,
          'UnknownWorkflowType',
          encodeFailure(this.unknownType(grant.workflowType, grant.taskQueue)),
        );
        return;
      }
    }

    let commands;
    try {
      commands = await runTask(runner, grant, history);
    } catch (error) {
      this.cache.delete(runId);
      const { cause, failure } = this.taskFailure(grant, error);
      await this.fail(grant, cause, failure);
      return;
    }

    for (const watch of this.moduleWatches) watch.check(grant.workflowType);
    crashPoint('workflow-task-before-complete');
    const eager = this.reserveActivities(commands);
    let granted = 0;
    try {
      const outcome = await this.engine.completeWorkflowTask(
        grant,
        commands,
        this.identity,
        [],
        eager,
        this.dispatch.stickyQueue(),
      );
      granted = outcome.eagerActivities.length;
      this.completed(grant, runner, outcome);
    } catch (error) {
      this.cache.delete(runId);
      if (!(error instanceof TaskLostError)) throw error;
      this.logger.log('warn', error.message, { workflowId: grant.workflowId, runId });
    } finally {
      if (eager) this.dispatch.releaseActivities(eager.max - granted);
    }
  }

  /** Slots for the activities `commands` schedule, for the engine to hand over at once. */
  private reserveActivities(commands: Command[]): EagerActivities | undefined {
    const scheduling = commands.filter((c) => c.commandType === 'ScheduleActivityTask').length;
    return scheduling > 0 ? this.dispatch.reserveActivities(scheduling) : undefined;
  }

  /** What follows a recorded completion: its eager activities run, and the cache keeps the run or lets it go. */
  private completed(
    grant: WorkflowTaskGrant,
    runner: WorkflowRunner,
    outcome: WorkflowTaskOutcome,
  ): void {
    const { runId } = grant;
    for (const activity of outcome.eagerActivities) this.dispatch.runActivity(activity);
    if (!outcome.accepted) {
      this.cache.delete(runId);
      this.logger.log('warn', `Workflow task not accepted: ${outcome.reason}`, {
        workflowId: grant.workflowId,
        runId,
      });
      return;
    }
    if (grant.start.previousStartedEventId === 0) this.dispatch.firstTaskCompleted();
    if (outcome.discarded) {
      // Only rejected updates: the task left no trace, so the run is where it was before it.
      runner.rewindSpeculativeTask(
        grant.start.scheduledEventId - 1,
        grant.start.previousStartedEventId,
      );
      this.cache.put(runId, runner);
    } else if (runner.activator.completed) {
      this.cache.delete(runId);
    } else {
      runner.knownAhead = outcome.recorded;
      this.cache.put(runId, runner);
    }
  }

  /** Holds the run's lock until the returned function is called (tasks and queries of it wait). */
  private hold(runId: string): () => void {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    this.locks.set(runId, held);
    return () => {
      release();
      if (this.locks.get(runId) === held) this.locks.delete(runId);
    };
  }

  private async executeQueryLocked(grant: QueryTaskGrant): Promise<void> {
    let answer: { result: unknown } | { failure: ReturnType<typeof encodeFailure> };
    try {
      // Read now, under the run's lock: the history may have grown since the query was claimed.
      // A cached run catches up by replaying what happened since (on this worker or another).
      let runner = this.cache.get(grant.runId);
      const history = await this.engine.store.readHistory(
        grant.runId,
        runner ? runner.lastEventId + 1 : 1,
      );
      runner ??= this.newRunner(grant.workflowType, grant.runId, history[0]!);
      if (!runner) throw this.unknownType(grant.workflowType, grant.taskQueue);
      runner.knownAhead = []; // the history just read holds them
      await runner.catchUp(history);
      const result = runner.query(grant.queryType, grant.args);
      assertPayload(result, `the result of query '${grant.queryType}'`);
      answer = { result };
      if (!runner.activator.completed) this.cache.put(grant.runId, runner);
    } catch (error) {
      this.cache.delete(grant.runId);
      answer = { failure: encodeFailure(error) };
    }
    try {
      await this.engine.answerQuery(grant.claim, answer);
    } catch (error) {
      if (!(error instanceof TaskLostError)) throw error;
    }
  }

  /** The run's stored history before `tail`'s first event, followed by `tail`. */
  private async fullHistory(runId: string, tail: HistoryEvent[]): Promise<HistoryEvent[]> {
    const first = tail[0]?.eventId ?? Number.MAX_SAFE_INTEGER;
    const stored = await this.engine.store.readHistory(runId, 1);
    return [...stored.filter((e) => e.eventId < first), ...tail];
  }

  private async fail(
    grant: WorkflowTaskGrant,
    cause: WorkflowTaskFailedCause,
    failure: FailureInfo,
  ): Promise<void> {
    try {
      await this.engine.failWorkflowTask(grant, cause, failure, this.identity);
    } catch (failError) {
      if (!(failError instanceof TaskLostError)) throw failError;
    }
  }

  /** Why the workflow code failed its task (logged here), as the history records it. */
  private taskFailure(
    grant: WorkflowTaskGrant,
    error: unknown,
  ): { cause: WorkflowTaskFailedCause; failure: FailureInfo } {
    this.logger.log('error', `Workflow task failed: ${(error as Error).message}`, {
      workflowId: grant.workflowId,
      runId: grant.runId,
      workflowType: grant.workflowType,
    });
    return {
      cause:
        error instanceof DeterminismViolationError
          ? 'NonDeterministicError'
          : 'WorkflowWorkerUnhandledFailure',
      failure: encodeFailure(error),
    };
  }
}
