/**
 * Runs claimed workflow tasks and queries: finds (or rebuilds by replay) the run's workflow code,
 * feeds it the new history and reports its commands, or fails the task with a cause the history
 * records. Tasks and queries of one run never run at the same time (a lock per run).
 */
import { crashPoint } from '../common/crash-points.ts';
import { DeterminismViolationError, TaskLostError } from '../common/errors.ts';
import { ApplicationFailure } from '../common/failure.ts';
import { encodeFailure } from '../common/failure-converter.ts';
import { assertPayload } from '../common/payload.ts';
import type { Engine } from '../engine/engine.ts';
import type { QueryTaskGrant, WorkflowTaskGrant } from '../engine/grants.ts';
import type { WorkflowFunction } from '../runtime/activator.ts';
import type { WorkflowLogger } from '../runtime/workflow-info.ts';
import { WorkflowRunner, type RunnerOptions } from '../runtime/workflow-runner.ts';
import type { HistoryEvent, WorkflowTaskFailedCause } from '../state/events.ts';
import type { Dispatch } from './dispatch.ts';
import { WorkflowCache } from './workflow-cache.ts';
import type { ModuleStateWatch } from './module-state-watch.ts';

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

  private async executeLocked(grant: WorkflowTaskGrant): Promise<void> {
    const { runId } = grant;
    let runner = this.cache.get(runId);
    if (runner && runner.lastStartedEventId !== grant.start.previousStartedEventId) {
      // Another worker advanced the run since we cached it (or a query replayed further): start over.
      this.cache.delete(runId);
      runner = undefined;
    }
    let history = grant.history;
    if (runner && runner.knownAhead.length > 0) {
      const next = history[0]?.eventId ?? Number.MAX_SAFE_INTEGER;
      history = [...runner.knownAhead.filter((e) => e.eventId < next), ...history];
      runner.knownAhead = [];
    }
    if (runner && (history[0]?.eventId ?? 0) > runner.lastEventId + 1)
      history = await this.fullHistory(grant.runId, history);
    if (!runner) {
      if (history[0]?.eventId !== 1) history = await this.fullHistory(grant.runId, history);
      runner = this.newRunner(grant.workflowType, runId, history[0]!);
      if (!runner) {
        await this.fail(
          grant,
          'UnknownWorkflowType',
          this.unknownType(grant.workflowType, grant.taskQueue),
        );
        return;
      }
    }

    let commands;
    try {
      commands = await runner.runTask({
        startedEventId: grant.start.startedEventId,
        history,
        updates: grant.start.updates,
      });
    } catch (error) {
      this.cache.delete(runId);
      const determinism = error instanceof DeterminismViolationError;
      this.logger.log('error', `Workflow task failed: ${(error as Error).message}`, {
        workflowId: grant.workflowId,
        runId,
        workflowType: grant.workflowType,
      });
      await this.fail(
        grant,
        determinism ? 'NonDeterministicError' : 'WorkflowWorkerUnhandledFailure',
        error,
      );
      return;
    }

    for (const watch of this.moduleWatches) watch.check(grant.workflowType);
    crashPoint('workflow-task-before-complete');
    const scheduling = commands.filter((c) => c.commandType === 'ScheduleActivityTask').length;
    const eager = scheduling > 0 ? this.dispatch.reserveActivities(scheduling) : undefined;
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
    } catch (error) {
      this.cache.delete(runId);
      if (!(error instanceof TaskLostError)) throw error;
      this.logger.log('warn', error.message, { workflowId: grant.workflowId, runId });
    } finally {
      if (eager) this.dispatch.releaseActivities(eager.max - granted);
    }
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
    error: unknown,
  ): Promise<void> {
    try {
      await this.engine.failWorkflowTask(grant, cause, encodeFailure(error), this.identity);
    } catch (failError) {
      if (!(failError instanceof TaskLostError)) throw failError;
    }
  }
}
