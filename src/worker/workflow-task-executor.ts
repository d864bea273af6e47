/**
 * Runs claimed workflow tasks: finds (or rebuilds by replay) the run's workflow code, feeds it the
 * new history and reports its commands, or fails the task with a cause the history records.
 */
import { crashPoint } from '../common/crash-points.ts';
import { DeterminismViolationError, TaskLostError } from '../common/errors.ts';
import { ApplicationFailure } from '../common/failure.ts';
import { encodeFailure } from '../common/failure-converter.ts';
import type { Engine } from '../engine/engine.ts';
import type { WorkflowTaskGrant } from '../engine/grants.ts';
import type { WorkflowFunction } from '../runtime/activator.ts';
import type { WorkflowLogger } from '../runtime/workflow-info.ts';
import { WorkflowRunner } from '../runtime/workflow-runner.ts';
import type { WorkflowTaskFailedCause } from '../state/events.ts';
import type { Dispatch } from './dispatch.ts';
import { WorkflowCache } from './workflow-cache.ts';

export class WorkflowTaskExecutor {
  readonly cache: WorkflowCache;

  constructor(
    private readonly engine: Engine,
    private readonly workflows: ReadonlyMap<string, WorkflowFunction>,
    private readonly identity: string,
    private readonly logger: WorkflowLogger,
    maxCachedWorkflows: number,
    private readonly dispatch: Dispatch,
  ) {
    this.cache = new WorkflowCache(maxCachedWorkflows);
  }

  /** First history event the worker needs for a run: after what its cached copy has seen. */
  historyFrom = (runId: string): number => (this.cache.get(runId)?.lastEventId ?? 0) + 1;

  async execute(grant: WorkflowTaskGrant): Promise<void> {
    const { runId } = grant;
    let runner = this.cache.get(runId);
    if (runner && runner.lastStartedEventId !== grant.start.previousStartedEventId) {
      // Another worker advanced the run since we cached it: our copy is stale.
      this.cache.delete(runId);
      runner = undefined;
    }
    let history = grant.history;
    if (!runner) {
      if (history[0]?.eventId !== 1) history = await this.fullHistory(grant);
      const workflow = this.workflows.get(grant.workflowType);
      if (!workflow) {
        const registered = [...this.workflows.keys()].join(', ') || 'none';
        const failure = ApplicationFailure.create({
          message: `Workflow type '${grant.workflowType}' is not registered on this worker (task queue '${grant.taskQueue}'; registered: ${registered}). The task is retried until a worker that knows the type polls the queue.`,
          type: 'NotFoundError',
        });
        await this.fail(grant, 'UnknownWorkflowType', failure);
        return;
      }
      runner = new WorkflowRunner(
        workflow,
        WorkflowRunner.infoFrom(history[0]!, runId),
        this.logger,
      );
    }

    let commands;
    try {
      commands = await runner.runTask({ startedEventId: grant.start.startedEventId, history });
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
      );
      granted = outcome.eagerActivities.length;
      for (const activity of outcome.eagerActivities) this.dispatch.runActivity(activity);
      if (!outcome.accepted) {
        this.cache.delete(runId);
        this.logger.log('error', `Workflow task rejected: ${outcome.reason}`, {
          workflowId: grant.workflowId,
          runId,
        });
      } else if (runner.activator.completed) {
        this.cache.delete(runId);
      } else {
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

  private async fullHistory(grant: WorkflowTaskGrant): Promise<WorkflowTaskGrant['history']> {
    const first = grant.history[0]?.eventId ?? Number.MAX_SAFE_INTEGER;
    const stored = await this.engine.store.readHistory(grant.runId, 1);
    return [...stored.filter((e) => e.eventId < first), ...grant.history];
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
