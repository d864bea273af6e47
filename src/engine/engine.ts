/**
 * The engine: each operation is one store transaction that loads a run's state, applies a pure
 * transition from `src/state/` and persists the resulting mutation. Workers, clients and (later) the
 * server all embed it; there is no separate server process.
 */
import { randomInt } from 'node:crypto';
import { uuid7 } from '../common/ids.ts';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '../common/errors.ts';
import type { FailureInfo } from '../common/failure-converter.ts';
import {
  cancelActivityTask,
  claimActivityTask,
  completeActivityTask,
  expireActivityTask,
  failActivityTask,
  heartbeatActivityTask,
} from '../state/activity-task.ts';
import { BadCommandError } from '../state/commands-apply.ts';
import type { Command } from '../state/commands.ts';
import type { WorkflowTaskFailedCause } from '../state/events.ts';
import {
  fireTimer,
  requestCancelWorkflow,
  startWorkflow,
  terminateWorkflow,
  timeOutRun,
  type StartWorkflowInput,
} from '../state/execution.ts';
import { Mutation } from '../state/mutation.ts';
import {
  TaskKind,
  TaskState,
  taskKey,
  type TaskChange,
  type TaskClaim,
  type TaskRecord,
} from '../state/tasks.ts';
import {
  claimWorkflowTask,
  completeWorkflowTask,
  failWorkflowTask,
  timeOutWorkflowTask,
  type WorkflowTaskStart,
} from '../state/workflow-task.ts';
import type { Store, StoreTransaction } from '../store/store.ts';
import type { Clock } from './clock.ts';
import type { ActivityTaskGrant, WorkflowTaskGrant } from './grants.ts';

/** Random fencing tokens: 48 bits, so a stale holder matching a new claim is practically impossible. */
const newClaimToken = (): number => randomInt(2 ** 48 - 1) + 1;

export type WorkflowTaskOutcome =
  | { accepted: true; eagerActivities: ActivityTaskGrant[] }
  | { accepted: false; reason: string; eagerActivities: [] };

/**
 * Eager dispatch: the worker completing a workflow task takes the activities it just scheduled (on
 * its queue, of types it runs, up to its free slots) in the same transaction, saving a claim round
 * trip per activity, as Temporal's eager activity execution does.
 */
export interface EagerActivities {
  taskQueue: string;
  activityTypes: ReadonlySet<string>;
  max: number;
}

/**
 * Eager dispatch the other way: the worker completing an activity takes the workflow task this
 * schedules, if the workflow is on its queue and of a type it runs.
 */
export interface EagerWorkflowTask {
  taskQueue: string;
  workflowTypes: ReadonlySet<string>;
  historyFrom: (runId: string) => number;
}

export class Engine {
  constructor(
    readonly store: Store,
    readonly clock: Clock = store.clock,
  ) {}

  /** Starts a run; refuses if a run of `workflowId` is running. Returns the new run id. */
  startWorkflow(input: Omit<StartWorkflowInput, 'runId'>): Promise<string> {
    const runId = uuid7(this.clock.now());
    return this.store.transaction(async (tx) => {
      if (await tx.getRunningRunId(input.workflowId)) {
        throw new WorkflowExecutionAlreadyStartedError(
          `Workflow '${input.workflowId}' is already running. Wait for it to close, or start this one with another workflowId.`,
          input.workflowId,
          input.workflowType,
        );
      }
      const m = startWorkflow({ ...input, runId }, this.clock.now());
      await tx.insertExecution(m.state);
      await tx.appendEvents(runId, m.events);
      await tx.applyTaskChanges(m.tasks);
      return runId;
    });
  }

  /**
   * Claims up to `max` workflow tasks of `taskQueue` in one transaction. `historyFrom(runId)` says from
   * which event the worker needs the history (1 unless it has the run cached).
   */
  claimWorkflowTasks(
    taskQueue: string,
    max: number,
    identity: string,
    historyFrom: (runId: string) => number,
  ): Promise<WorkflowTaskGrant[]> {
    return this.store.transaction(async (tx) => {
      const grants: WorkflowTaskGrant[] = [];
      for (const task of (await tx.readyTasks(
        TaskKind.Workflow,
        taskQueue,
        max,
      )) as TaskRecord<'workflow'>[]) {
        const state = await tx.getExecution(task.runId);
        const m = state && new Mutation(state, this.clock.now());
        const claimed = m && claimWorkflowTask(m, task, identity, newClaimToken());
        if (!m || !claimed) {
          await tx.applyTaskChanges([{ op: 'delete', key: task.key }]); // orphan: its run is gone or closed
          continue;
        }
        m.put(claimed.task);
        await persist(tx, m);
        grants.push(await workflowTaskGrant(tx, m, claimed, historyFrom));
      }
      return grants;
    });
  }

  /**
   * Completes a held workflow task with its commands. A command the engine refuses fails the task
   * instead (cause `BadCommand`), and the outcome says why.
   */
  async completeWorkflowTask(
    grant: Pick<WorkflowTaskGrant, 'claim' | 'runId'>,
    commands: Command[],
    identity: string,
    flags: number[] = [],
    eager?: EagerActivities,
  ): Promise<WorkflowTaskOutcome> {
    return this.store.transaction(async (tx) => {
      const m = await this.load(tx, grant.runId);
      const task = (await tx.getTask(grant.claim.key)) as TaskRecord<'workflow'> | undefined;
      const cancelled = new Map<string, TaskRecord>();
      for (const command of commands) {
        if (command.commandType !== 'RequestCancelActivityTask') continue;
        const pending = m.state.activities[command.attributes.activityId];
        if (!pending) continue;
        const key = taskKey.activity(grant.runId, pending.scheduledEventId);
        const row = await tx.getTask(key);
        if (row) cancelled.set(key, row);
      }
      try {
        completeWorkflowTask(m, task, grant.claim, commands, identity, flags, cancelled);
      } catch (error) {
        if (!(error instanceof BadCommandError)) throw error;
        // Validation runs before any change, so the state is still as loaded.
        failWorkflowTask(m, task, grant.claim, 'BadCommand', { message: error.message }, identity);
        await persist(tx, m);
        return { accepted: false, reason: error.message, eagerActivities: [] };
      }
      const eagerActivities = eager ? claimScheduledActivities(m, eager, identity) : [];
      await persist(tx, m);
      return { accepted: true, eagerActivities };
    });
  }

  failWorkflowTask(
    grant: Pick<WorkflowTaskGrant, 'claim' | 'runId'>,
    cause: WorkflowTaskFailedCause,
    failure: FailureInfo,
    identity: string,
  ): Promise<void> {
    return this.mutateRun(grant.runId, async (m, tx) => {
      const task = (await tx.getTask(grant.claim.key)) as TaskRecord<'workflow'> | undefined;
      failWorkflowTask(m, task, grant.claim, cause, failure, identity);
    });
  }

  /** Claims up to `max` activity tasks of `taskQueue`. Touches no run state: an attempt starting costs one row update. */
  claimActivityTasks(
    taskQueue: string,
    max: number,
    identity: string,
  ): Promise<ActivityTaskGrant[]> {
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const tasks = (await tx.readyTasks(
        TaskKind.Activity,
        taskQueue,
        max,
      )) as TaskRecord<'activity'>[];
      const claimed = tasks.map((task) => claimActivityTask(task, identity, now, newClaimToken()));
      await tx.applyTaskChanges(claimed.map((task) => ({ op: 'put', task })));
      return claimed.map((task) => activityTaskGrant(task, now));
    });
  }

  completeActivityTask(
    grant: ActivityGrantRef,
    result: unknown,
    identity: string,
    eager?: EagerWorkflowTask,
  ): Promise<WorkflowTaskGrant | undefined> {
    return this.mutateActivity(grant, identity, eager, (m, task) =>
      completeActivityTask(m, task, grant.claim, result, identity),
    );
  }

  /** A failed attempt; `lastHeartbeatDetails` (not yet sent) are kept for the next attempt. */
  failActivityTask(
    grant: ActivityGrantRef,
    failure: FailureInfo,
    identity: string,
    lastHeartbeatDetails?: unknown,
    eager?: EagerWorkflowTask,
  ): Promise<WorkflowTaskGrant | undefined> {
    return this.mutateActivity(grant, identity, eager, (m, task) =>
      failActivityTask(m, task, grant.claim, failure, identity, lastHeartbeatDetails),
    );
  }

  /** The activity acknowledged a cancellation request. */
  cancelActivityTask(
    grant: ActivityGrantRef,
    details: unknown[],
    identity: string,
    eager?: EagerWorkflowTask,
  ): Promise<WorkflowTaskGrant | undefined> {
    return this.mutateActivity(grant, identity, eager, (m, task) =>
      cancelActivityTask(m, task, grant.claim, details, identity),
    );
  }

  /** Records a heartbeat; resolves to whether cancellation of the activity was requested. Throws `TaskLostError` if the attempt is no longer held. */
  heartbeatActivityTask(
    grant: ActivityGrantRef,
    details: unknown,
  ): Promise<{ cancelRequested: boolean }> {
    return this.store.transaction(async (tx) => {
      const task = (await tx.getTask(grant.claim.key)) as TaskRecord<'activity'> | undefined;
      const updated = heartbeatActivityTask(task, grant.claim, details, this.clock.now());
      await tx.applyTaskChanges([{ op: 'put', task: updated }]);
      return { cancelRequested: updated.data.cancelRequested === true };
    });
  }

  /**
   * Acts on up to `limit` tasks whose time came: fires timers, ends backoffs, times out activities,
   * workflow tasks and runs. Safe to run in every process at once. Returns how many it handled.
   */
  fireExpiredTasks(limit = 256): Promise<number> {
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const tasks = await tx.expiredTasks(now, limit);
      const byRun = new Map<string, TaskRecord[]>();
      for (const task of tasks) byRun.set(task.runId, [...(byRun.get(task.runId) ?? []), task]);
      for (const [runId, runTasks] of byRun) {
        const state = await tx.getExecution(runId);
        if (!state) {
          await tx.applyTaskChanges(runTasks.map((t) => ({ op: 'delete', key: t.key })));
          continue;
        }
        const m = new Mutation(state, now);
        for (const task of runTasks) expire(m, task);
        await persist(tx, m);
      }
      return tasks.length;
    });
  }

  /** Asks the run to cancel; the workflow sees it at its next task. */
  requestCancelWorkflow(
    workflowId: string,
    runId: string | undefined,
    identity?: string,
  ): Promise<void> {
    return this.mutateWorkflow(workflowId, runId, (m) => requestCancelWorkflow(m, identity));
  }

  /** Closes the run now. */
  terminateWorkflow(
    workflowId: string,
    runId: string | undefined,
    reason?: string,
    identity?: string,
  ): Promise<void> {
    return this.mutateWorkflow(workflowId, runId, (m) => terminateWorkflow(m, reason, identity));
  }

  private async load(tx: StoreTransaction, runId: string): Promise<Mutation> {
    const state = await tx.getExecution(runId);
    if (!state)
      throw new WorkflowNotFoundError(
        `No workflow run '${runId}' in ${this.store.location}.`,
        '',
        runId,
      );
    return new Mutation(state, this.clock.now());
  }

  private mutateRun(
    runId: string,
    apply: (m: Mutation, tx: StoreTransaction) => Promise<void> | void,
  ): Promise<void> {
    return this.store.transaction(async (tx) => {
      const m = await this.load(tx, runId);
      await apply(m, tx);
      await persist(tx, m);
    });
  }

  private mutateActivity(
    grant: ActivityGrantRef,
    identity: string,
    eager: EagerWorkflowTask | undefined,
    apply: (m: Mutation, task: TaskRecord<'activity'> | undefined) => void,
  ): Promise<WorkflowTaskGrant | undefined> {
    return this.store.transaction(async (tx) => {
      const m = await this.load(tx, grant.runId);
      apply(m, (await tx.getTask(grant.claim.key)) as TaskRecord<'activity'> | undefined);
      const { state } = m;
      const wanted =
        eager && state.taskQueue === eager.taskQueue && eager.workflowTypes.has(state.workflowType);
      const scheduled = wanted ? m.tasks.find(isReadyWorkflowTaskPut) : undefined;
      const claimed = scheduled && claimWorkflowTask(m, scheduled.task, identity, newClaimToken());
      if (claimed) scheduled.task = claimed.task;
      await persist(tx, m);
      return claimed ? workflowTaskGrant(tx, m, claimed, eager!.historyFrom) : undefined;
    });
  }

  private async mutateWorkflow(
    workflowId: string,
    runId: string | undefined,
    apply: (m: Mutation) => void,
  ): Promise<void> {
    const target = runId ?? (await this.store.findExecution(workflowId))?.runId;
    if (!target) {
      throw new WorkflowNotFoundError(
        `No workflow with id '${workflowId}' in ${this.store.location}.`,
        workflowId,
        runId,
      );
    }
    return this.mutateRun(target, (m) => {
      if (m.state.workflowId !== workflowId) {
        throw new WorkflowNotFoundError(
          `Run '${target}' does not belong to workflow '${workflowId}'.`,
          workflowId,
          runId,
        );
      }
      apply(m);
    });
  }
}

/** The parts of an activity grant that completions need. */
export type ActivityGrantRef = { claim: TaskClaim; runId: string };

function expire(m: Mutation, task: TaskRecord): void {
  switch (task.kind) {
    case TaskKind.Timer:
      return fireTimer(m, task);
    case TaskKind.RunTimeout:
      return timeOutRun(m, task);
    case TaskKind.Activity:
      return expireActivityTask(m, task);
    case TaskKind.Workflow:
      if (task.state === TaskState.Waiting) {
        // Backoff of a failed workflow task is over: the next attempt may be claimed.
        m.put({ ...task, state: TaskState.Ready, expiresAt: undefined });
      } else if (task.state === TaskState.Claimed && m.state.workflowTask?.started) {
        timeOutWorkflowTask(m);
      }
      return;
  }
}

function isReadyWorkflowTaskPut(
  change: TaskChange,
): change is { op: 'put'; task: TaskRecord<'workflow'> } {
  return (
    change.op === 'put' &&
    change.task.kind === TaskKind.Workflow &&
    change.task.state === TaskState.Ready
  );
}

/** Claims, inside the mutation, the activity tasks it scheduled that the completing worker wants. */
function claimScheduledActivities(
  m: Mutation,
  eager: EagerActivities,
  identity: string,
): ActivityTaskGrant[] {
  const grants: ActivityTaskGrant[] = [];
  for (const change of m.tasks) {
    if (grants.length >= eager.max) break;
    if (change.op !== 'put' || change.task.kind !== TaskKind.Activity) continue;
    const task = change.task;
    if (
      task.state !== TaskState.Ready ||
      task.taskQueue !== eager.taskQueue ||
      !eager.activityTypes.has(task.data.activityType)
    ) {
      continue;
    }
    const claimed = claimActivityTask(task, identity, m.now, newClaimToken());
    change.task = claimed;
    grants.push(activityTaskGrant(claimed, m.now));
  }
  return grants;
}

function activityTaskGrant(task: TaskRecord<'activity'>, now: number): ActivityTaskGrant {
  return {
    claim: { key: task.key, claimToken: task.claimToken },
    runId: task.runId,
    taskQueue: task.taskQueue!,
    task: task.data,
    startedTime: now,
  };
}

/** The grant of a workflow task claimed in this transaction (after the mutation was persisted). */
async function workflowTaskGrant(
  tx: StoreTransaction,
  m: Mutation,
  claimed: { task: TaskRecord<'workflow'>; start: WorkflowTaskStart },
  historyFrom: (runId: string) => number,
): Promise<WorkflowTaskGrant> {
  const { state } = m;
  const history = await tx.readHistory(state.runId, historyFrom(state.runId));
  history.push(...claimed.start.transientEvents);
  return {
    claim: { key: claimed.task.key, claimToken: claimed.task.claimToken },
    runId: state.runId,
    workflowId: state.workflowId,
    workflowType: state.workflowType,
    taskQueue: state.taskQueue,
    start: claimed.start,
    history,
  };
}

/** Writes a mutation: events, run state, task changes. */
async function persist(tx: StoreTransaction, m: Mutation): Promise<void> {
  if (m.events.length > 0) await tx.appendEvents(m.state.runId, m.events);
  await tx.updateExecution(m.state);
  if (m.tasks.length > 0) await tx.applyTaskChanges(m.tasks);
}
