/**
 * The engine: each operation is one store transaction that loads the runs it concerns, applies pure
 * transitions from `src/state/`, applies their effects on other runs, and persists everything.
 * Workers, clients and (later) the server all embed it; there is no separate server process.
 */
import { randomInt } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '../common/errors.ts';
import type { FailureInfo } from '../common/failure-converter.ts';
import { uuid7 } from '../common/ids.ts';
import { roundTrip } from '../common/payload.ts';
import { copyEvents } from '../state/event-json.ts';
import {
  cancelActivityTask,
  claimActivityTask,
  completeActivityTask,
  expireActivityTask,
  failActivityTask,
  heartbeatActivityTask,
} from '../state/activity-task.ts';
import { assertClaim, claimed } from '../state/claims.ts';
import { BadCommandError } from '../state/commands-apply.ts';
import type { Command } from '../state/commands.ts';
import type { HistoryEvent, WorkflowTaskFailedCause } from '../state/events.ts';
import { isRunning, type StickyQueue, type UpdateState } from '../state/execution-state.ts';
import {
  fireTimer,
  requestCancelWorkflow,
  startWorkflow,
  terminateWorkflow,
  timeOutRun,
  type StartWorkflowInput,
} from '../state/execution.ts';
import { admitUpdate, signalWorkflow, type UpdateRequest } from '../state/messages.ts';
import type { Mutation } from '../state/mutation.ts';
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
  unstick,
  type WorkflowTaskStart,
} from '../state/workflow-task.ts';
import type { Store, StoreTransaction, TransactionOptions } from '../store/store.ts';
import type { Clock } from './clock.ts';
import { applyEffects } from './effects.ts';
import type { ActivityTaskGrant, QueryTaskGrant, WorkflowTaskGrant } from './grants.ts';
import { UnitOfWork } from './unit-of-work.ts';
import { TasksRanNow, type Ran, type RunNow, type TaskRanNow } from './run-now.ts';

/** Random fencing tokens: 48 bits, so a stale holder matching a new claim is practically impossible. */
const newClaimToken = (): number => randomInt(2 ** 48 - 1) + 1;

/** How long a worker may hold a query before another may take it, and how long an answer waits to be read. */
const QUERY_LEASE_MS = 10_000;
const QUERY_ANSWER_TTL_MS = 60_000;

export type WorkflowTaskOutcome =
  | {
      accepted: true;
      discarded: boolean;
      eagerActivities: ActivityTaskGrant[];
      /** The events the completion recorded, in order (a worker keeps them with its cached run). */
      recorded: HistoryEvent[];
    }
  | { accepted: false; reason: string; eagerActivities: [] };

/** What a claim took, and what it saw of the rest of the queue. */
export interface Claimed<T> {
  grants: T[];
  /** It took `max`: the queue may hold more ready tasks now. */
  more: boolean;
  /** It left ready tasks because another transaction held their run: worth a retry soon. */
  left: boolean;
  /** Queries only: it left queries of runs whose first workflow task has not completed. */
  waiting?: boolean;
}

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
  /** The worker's sticky queue: a run sticky to another worker's queue is left to that worker. */
  stickyQueue?: string;
  /** Runs the workflow task in the same transaction if it can (see `RunNow`). */
  runNow?: RunNow;
  /**
   * The worker has no free slot to run the task after the transaction: the task is claimed only if
   * `runNow` runs it within (which needs none), and otherwise left on the queue.
   */
  onlyIfRunNow?: boolean;
}

/** What to do when a workflow with the same id already exists. Names as in Temporal. */
export type WorkflowIdReusePolicy =
  'ALLOW_DUPLICATE' | 'ALLOW_DUPLICATE_FAILED_ONLY' | 'REJECT_DUPLICATE' | 'TERMINATE_IF_RUNNING';
export type WorkflowIdConflictPolicy = 'FAIL' | 'USE_EXISTING' | 'TERMINATE_EXISTING';

export interface StartOptions {
  workflowIdReusePolicy?: WorkflowIdReusePolicy;
  workflowIdConflictPolicy?: WorkflowIdConflictPolicy;
  /** Sent in the same transaction as the start (signal-with-start). */
  signal?: { name: string; args: unknown[] };
}

export type ActivityGrantRef = { claim: TaskClaim; runId: string };

export class Engine {
  constructor(
    readonly store: Store,
    readonly clock: Clock = store.clock,
  ) {}

  /** One store transaction of `work` on a unit of work; `options` says what it reads first, if known. */
  private transact<T>(
    work: (uow: UnitOfWork) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> {
    return this.store.transaction(async (tx) => {
      const uow = new UnitOfWork(tx, this.clock.now(), this.store.location);
      const result = await work(uow);
      await applyEffects(uow);
      await uow.persist();
      return result;
    }, options);
  }

  /**
   * `transact` for work that may run workflow tasks now: `work` records each one in `ran` (a fresh
   * list per invocation, as a store may run the work again), and they are settled after the
   * transaction, by whether it committed.
   */
  private async transactRunningNow<T>(
    work: (uow: UnitOfWork, ran: Ran[]) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> {
    const ranNow = new TasksRanNow();
    let result: T;
    try {
      result = await this.transact((uow) => work(uow, ranNow.begin()), options);
    } catch (error) {
      ranNow.settle(false);
      throw error;
    }
    ranNow.settle(true);
    return result;
  }

  /**
   * Starts a run, by the id reuse and conflict policies (defaults: a closed workflow's id may be
   * reused; a running one's may not). Returns the run id, the first run of its chain, and whether a
   * new run was started (false when `USE_EXISTING` returned the running one, or signal-with-start
   * signalled it).
   */
  startWorkflow(
    input: Omit<StartWorkflowInput, 'runId'>,
    options: StartOptions = {},
  ): Promise<{ runId: string; firstExecutionRunId: string; started: boolean }> {
    return this.transact(
      async (uow) => {
        const running = await uow.running(input.workflowId);
        const conflict =
          options.workflowIdConflictPolicy ?? (options.signal ? 'USE_EXISTING' : 'FAIL');
        if (running) {
          if (
            options.workflowIdReusePolicy === 'TERMINATE_IF_RUNNING' ||
            conflict === 'TERMINATE_EXISTING'
          ) {
            terminateWorkflow(
              running,
              'terminated by a new start with the same workflow id',
              input.identity,
            );
          } else if (conflict === 'USE_EXISTING') {
            if (options.signal)
              signalWorkflow(running, options.signal.name, options.signal.args, input.identity);
            const { runId, firstExecutionRunId } = running.state;
            return { runId, firstExecutionRunId: firstExecutionRunId ?? runId, started: false };
          } else {
            throw alreadyStarted(input.workflowId, input.workflowType, 'is already running');
          }
        } else {
          const reuse = options.workflowIdReusePolicy ?? 'ALLOW_DUPLICATE';
          if (reuse === 'REJECT_DUPLICATE' || reuse === 'ALLOW_DUPLICATE_FAILED_ONLY') {
            const latest = await uow.find(input.workflowId, undefined);
            const failedOnly = ['Failed', 'Canceled', 'Terminated', 'TimedOut'];
            if (
              latest &&
              (reuse === 'REJECT_DUPLICATE' || !failedOnly.includes(latest.state.status))
            ) {
              throw alreadyStarted(
                input.workflowId,
                input.workflowType,
                `already ran (its last run ${latest.state.status}) and the id reuse policy is ${reuse}`,
              );
            }
          }
        }
        const m = startWorkflow(
          {
            ...input,
            runId: uuid7(uow.now),
            ...(options.signal ? { signal: options.signal } : {}),
          },
          uow.now,
        );
        uow.create(m);
        return { runId: m.state.runId, firstExecutionRunId: m.state.runId, started: true };
      },
      // A start that may look at the latest run too reads both from the database: a look-up made
      // for a whole batch could be older than that read, and the two would disagree.
      options.workflowIdReusePolicy === 'REJECT_DUPLICATE' ||
        options.workflowIdReusePolicy === 'ALLOW_DUPLICATE_FAILED_ONLY'
        ? {}
        : { readsRunningOf: input.workflowId },
    );
  }

  /**
   * Claims up to `max` workflow tasks of `taskQueue` in one transaction. `historyFrom(runId)` says from
   * which event the worker needs the history (1 unless it has the run cached). With `runNow`, the
   * worker runs the tasks it can at once and the same transaction completes them: only the others
   * are returned.
   */
  claimWorkflowTasks(
    taskQueue: string,
    max: number,
    identity: string,
    historyFrom: (runId: string) => number,
    stickyQueue?: string,
    runNow?: RunNow,
  ): Promise<Claimed<WorkflowTaskGrant>> {
    return this.transactRunningNow(async (uow, ran) => {
      const taken: { m: Mutation; task: TaskRecord<'workflow'>; grant: WorkflowTaskGrant }[] = [];
      // The worker's own sticky queue first (runs it has cached), then the shared queue. Each task
      // comes with its run (held, unless another transaction has it) and maybe its history.
      const sticky = stickyQueue
        ? await uow.tx.readyWorkflowTasks(stickyQueue, max, historyFrom)
        : [];
      const shared =
        sticky.length < max
          ? await uow.tx.readyWorkflowTasks(taskQueue, max - sticky.length, historyFrom)
          : [];
      const ready = [...sticky, ...shared];
      let left = false;
      // The histories the store did not bring, read at once for all of them: a store that
      // pipelines answers them in one round trip.
      const histories = ready.map(({ task, run, history }) => {
        if (history || run === undefined || run === 'locked') return Promise.resolve(history);
        const read = uow.tx.readHistory(task.runId, historyFrom(task.runId));
        read.catch(() => undefined); // awaited below if used; a failure fails the transaction
        return read;
      });
      for (const [i, { task, run }] of ready.entries()) {
        const m = uow.adopt(task.runId, run);
        if (m === 'locked') {
          left = true; // another transaction is changing the run: leave the task for later
          continue;
        }
        const claim = m && claimWorkflowTask(m, task, identity, newClaimToken());
        if (!m || !claim) {
          await uow.tx.applyTaskChanges([{ op: 'delete', key: task.key }]); // orphan: its run is gone or closed
          continue;
        }
        m.put(claim.task);
        const grant = await workflowTaskGrant(uow.tx, m, claim, historyFrom, await histories[i]);
        taken.push({ m, task: claim.task, grant });
      }
      // The runs are independent: their tasks run side by side, then complete one by one. Each
      // task run is recorded at once, so that it is settled even if this transaction fails.
      const now = runNow ? await Promise.all(taken.map(({ grant }) => runNow(grant))) : [];
      const grants: WorkflowTaskGrant[] = [];
      const completions: { entry: Ran; task: TaskRecord<'workflow'>; claim: TaskClaim }[] = [];
      for (const [i, { m, task, grant }] of taken.entries()) {
        const run = now[i];
        if (!run) {
          grants.push(grant);
          continue;
        }
        const entry: Ran = { task: run, run: m, startedEventId: grant.start.startedEventId };
        ran.push(entry);
        completions.push({ entry, task, claim: grant.claim });
      }
      for (const { entry, task, claim } of completions)
        entry.outcome = await this.completeRanNow(
          uow,
          entry.run,
          task,
          claim,
          entry.task,
          identity,
        );
      return { grants, more: ready.length === max, left };
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
    sticky?: StickyQueue,
  ): Promise<WorkflowTaskOutcome> {
    let run: Mutation | undefined;
    const outcome = await this.transact(
      async (uow): Promise<WorkflowTaskOutcome> => {
        const { m, task } = await uow.requireWithTask(grant.runId, grant.claim.key);
        run = m;
        return this.completeIn(
          uow,
          m,
          task as TaskRecord<'workflow'> | undefined,
          grant.claim,
          commands,
          identity,
          flags,
          eager,
          sticky,
        );
      },
      { reads: { runId: grant.runId, taskKey: grant.claim.key } },
    );
    // Read after the transaction: effects on other runs may have recorded more on this one.
    if (outcome.accepted && run) outcome.recorded = copyEvents(run.events);
    return outcome;
  }

  /** Records a task the worker ran at once (see `RunNow`): its completion, or its failure. */
  private async completeRanNow(
    uow: UnitOfWork,
    m: Mutation,
    task: TaskRecord<'workflow'>,
    claim: TaskClaim,
    run: TaskRanNow,
    identity: string,
  ): Promise<WorkflowTaskOutcome> {
    if ('failure' in run.result) {
      failWorkflowTask(m, task, claim, run.result.cause, run.result.failure, identity);
      return { accepted: false, reason: 'the workflow task failed', eagerActivities: [] };
    }
    return this.completeIn(
      uow,
      m,
      task,
      claim,
      run.result.commands,
      identity,
      [],
      run.eager,
      run.sticky,
    );
  }

  /** Completes the workflow task `task` of run `m` (held under `claim`) inside the transaction `uow`. */
  private async completeIn(
    uow: UnitOfWork,
    m: Mutation,
    task: TaskRecord<'workflow'> | undefined,
    claim: TaskClaim,
    commands: Command[],
    identity: string,
    flags: number[],
    eager: EagerActivities | undefined,
    sticky: StickyQueue | undefined,
  ): Promise<WorkflowTaskOutcome> {
    const cancelled = new Map<string, TaskRecord>();
    for (const command of commands) {
      if (command.commandType !== 'RequestCancelActivityTask') continue;
      const pending = m.state.activities[command.attributes.activityId];
      if (!pending) continue;
      const key = taskKey.activity(m.state.runId, pending.scheduledEventId);
      const row = await uow.tx.getTask(key);
      if (row) cancelled.set(key, row);
    }
    let outcome;
    try {
      await checkSearchAttributeTypes(uow.tx, commands);
      outcome = completeWorkflowTask(m, task, claim, commands, identity, flags, cancelled, sticky);
    } catch (error) {
      if (!(error instanceof BadCommandError)) throw error;
      // Validation runs before any change, so the state is still as loaded.
      failWorkflowTask(m, task, claim, 'BadCommand', { message: error.message }, identity);
      return { accepted: false, reason: error.message, eagerActivities: [] };
    }
    if (outcome.kind === 'unhandled')
      return { accepted: false, reason: outcome.reason, eagerActivities: [] };
    const eagerActivities = eager ? claimScheduledActivities(m, eager, identity) : [];
    return {
      accepted: true,
      discarded: outcome.kind === 'discarded',
      eagerActivities,
      recorded: [],
    };
  }

  failWorkflowTask(
    grant: Pick<WorkflowTaskGrant, 'claim' | 'runId'>,
    cause: WorkflowTaskFailedCause,
    failure: FailureInfo,
    identity: string,
  ): Promise<void> {
    return this.transact(
      async (uow) => {
        const { m, task: row } = await uow.requireWithTask(grant.runId, grant.claim.key);
        const task = row as TaskRecord<'workflow'> | undefined;
        failWorkflowTask(m, task, grant.claim, cause, failure, identity);
      },
      { reads: { runId: grant.runId, taskKey: grant.claim.key } },
    );
  }

  /** Claims up to `max` activity tasks of `taskQueue`. Touches no run state: an attempt starting costs one row update. */
  claimActivityTasks(
    taskQueue: string,
    max: number,
    identity: string,
  ): Promise<Claimed<ActivityTaskGrant>> {
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const tasks = (await tx.readyTasks(
        TaskKind.Activity,
        taskQueue,
        max,
      )) as TaskRecord<'activity'>[];
      const claimedTasks = tasks.map((task) =>
        claimActivityTask(task, identity, now, newClaimToken()),
      );
      await tx.applyTaskChanges(claimedTasks.map((task) => ({ op: 'put', task })));
      return {
        grants: claimedTasks.map((task) => activityTaskGrant(task, now)),
        more: tasks.length === max,
        left: false,
      };
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
    // The time it arrived, as Temporal's server records it: a wait in the store's queue is not the
    // activity's delay.
    const receivedAt = this.clock.now();
    return this.store.transaction(async (tx) => {
      const task = (await tx.getTask(grant.claim.key)) as TaskRecord<'activity'> | undefined;
      const updated = heartbeatActivityTask(task, grant.claim, details, receivedAt);
      await tx.applyTaskChanges([{ op: 'put', task: updated }]);
      return { cancelRequested: updated.data.cancelRequested === true };
    });
  }

  /**
   * Acts on up to `limit` tasks whose time came: fires timers, ends backoffs, times out activities,
   * workflow tasks and runs, and drops abandoned queries. Safe to run in every process at once.
   * Returns how many it handled.
   */
  fireExpiredTasks(limit = 256): Promise<number> {
    return this.transact(async (uow) => {
      const tasks = await uow.tx.expiredTasks(uow.now, limit);
      for (const task of tasks) {
        if (task.kind === TaskKind.Query) {
          await uow.tx.applyTaskChanges([expireQuery(task, uow.now)]);
          continue;
        }
        const m = await uow.tryLoad(task.runId);
        if (m === 'locked') continue; // the run is busy: this task stays due for the next scan
        if (m) expire(m, task);
        else await uow.tx.applyTaskChanges([{ op: 'delete', key: task.key }]);
      }
      return tasks.length;
    });
  }

  /**
   * A worker with sticky queue `name` is shutting down: tasks waiting on that queue move to their
   * run's own queue at once (rather than after the sticky timeout), and the runs it has cached
   * (`runIds`) stop naming it, so that their next tasks go to any worker.
   */
  async releaseStickyQueue(name: string, runIds: Iterable<string>): Promise<void> {
    const CHUNK = 100;
    for (;;) {
      const { found, moved } = await this.transact(async (uow) => {
        const tasks = await uow.tx.readyTasks(TaskKind.Workflow, name, CHUNK);
        let moved = 0;
        for (const task of tasks as TaskRecord<'workflow'>[]) {
          // The task is held already, so the run is not waited for (lock order: runs, then
          // tasks). A busy run's task is left: it moves at the sticky timeout.
          const m = await uow.tryLoad(task.runId);
          if (m === 'locked') continue;
          if (m) unstick(m, task);
          else await uow.tx.applyTaskChanges([{ op: 'delete', key: task.key }]);
          moved++;
        }
        return { found: tasks.length, moved };
      });
      if (found < CHUNK || moved < found) break;
    }
    // Plain reads first: most cached runs are idle or already moved on, and need no write.
    const cached: string[] = [];
    for (const runId of runIds) {
      if ((await this.store.getExecution(runId))?.sticky?.name === name) cached.push(runId);
    }
    for (let i = 0; i < cached.length; i += CHUNK) {
      await this.transact(async (uow) => {
        for (const runId of cached.slice(i, i + CHUNK)) {
          const m = await uow.load(runId);
          if (m?.state.sticky?.name === name) unstick(m);
        }
      });
    }
  }

  /**
   * Asks the run to cancel; the workflow sees it at its next task. With `firstExecutionRunId`, only
   * a run of the chain that began with that run is affected.
   */
  requestCancelWorkflow(
    workflowId: string,
    runId: string | undefined,
    identity?: string,
    firstExecutionRunId?: string,
  ): Promise<void> {
    return this.mutateWorkflow(
      workflowId,
      runId,
      (m) => requestCancelWorkflow(m, identity),
      false,
      firstExecutionRunId,
    );
  }

  /** Closes the run now. With `firstExecutionRunId`, only a run of that chain (see `requestCancelWorkflow`). */
  terminateWorkflow(
    workflowId: string,
    runId: string | undefined,
    reason?: string,
    identity?: string,
    firstExecutionRunId?: string,
  ): Promise<void> {
    return this.mutateWorkflow(
      workflowId,
      runId,
      (m) => terminateWorkflow(m, reason, identity),
      false,
      firstExecutionRunId,
    );
  }

  /** Delivers a signal to the running run (the given one, or the workflow's current run). */
  signalWorkflow(
    workflowId: string,
    runId: string | undefined,
    signalName: string,
    args: unknown[],
    identity?: string,
  ): Promise<void> {
    return this.mutateWorkflow(
      workflowId,
      runId,
      (m) => signalWorkflow(m, signalName, args, identity),
      true,
    );
  }

  /** Admits an update (or finds the one with the same id). Returns its run and current state. */
  requestUpdate(
    workflowId: string,
    runId: string | undefined,
    request: UpdateRequest,
  ): Promise<{ runId: string; update: UpdateState }> {
    return this.transact(async (uow) => {
      const m = await this.target(uow, workflowId, runId);
      const existing = m.state.updates?.[request.updateId];
      if (!existing && !isRunning(m.state))
        throw notRunning(workflowId, m.state.runId, m.state.status);
      return { runId: m.state.runId, update: structuredClone(admitUpdate(m, request)) };
    });
  }

  /** Creates a query for a worker to answer; returns the key to read its answer with. */
  requestQuery(
    workflowId: string,
    runId: string | undefined,
    queryType: string,
    args: unknown[],
  ): Promise<{ key: string; runId: string }> {
    return this.store.transaction(async (tx) => {
      const uow = new UnitOfWork(tx, this.clock.now(), this.store.location);
      const m = await this.target(uow, workflowId, runId);
      const key = taskKey.query(m.state.runId, uuid7(uow.now));
      await tx.applyTaskChanges([
        {
          op: 'put',
          task: {
            key,
            kind: TaskKind.Query,
            runId: m.state.runId,
            taskQueue: m.state.taskQueue,
            state: TaskState.Ready,
            expiresAt: uow.now + QUERY_ANSWER_TTL_MS,
            claimToken: 0,
            data: { queryType, args },
          },
        },
      ]);
      return { key, runId: m.state.runId };
    });
  }

  /** Claims up to `max` queries of `taskQueue` with what the worker needs to answer them. */
  claimQueryTasks(
    taskQueue: string,
    max: number,
    identity: string,
  ): Promise<Claimed<QueryTaskGrant>> {
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const grants: QueryTaskGrant[] = [];
      const ready = (await tx.readyTasks(TaskKind.Query, taskQueue, max)) as TaskRecord<'query'>[];
      let left = false;
      let waiting = false;
      for (const task of ready) {
        // Not waiting for the run: this transaction holds a task, and lock order is runs, then tasks.
        const state = await tx.tryGetExecution(task.runId);
        if (!state) {
          await tx.applyTaskChanges([{ op: 'delete', key: task.key }]);
          continue;
        }
        // The run is changing, or has no handlers yet (its first workflow task has not completed):
        // the query stays ready for a later poll.
        if (state === 'locked') {
          left = true;
          continue;
        }
        if (state.lastCompletedStartedEventId === 0 && state.status === 'Running') {
          waiting = true;
          continue;
        }
        const held = claimed(task, identity, now + QUERY_LEASE_MS, newClaimToken());
        await tx.applyTaskChanges([{ op: 'put', task: held }]);
        grants.push({
          claim: { key: held.key, claimToken: held.claimToken },
          runId: task.runId,
          workflowId: state.workflowId,
          workflowType: state.workflowType,
          taskQueue,
          queryType: task.data.queryType,
          args: task.data.args,
          lastCompletedStartedEventId: state.lastCompletedStartedEventId,
        });
      }
      return { grants, more: ready.length === max, left, waiting };
    });
  }

  /** Records a worker's answer to a query. */
  answerQuery(
    claim: TaskClaim,
    answer: { result: unknown } | { failure: FailureInfo },
  ): Promise<void> {
    return this.store.transaction(async (tx) => {
      const task = assertClaim(
        (await tx.getTask(claim.key)) as TaskRecord<'query'> | undefined,
        claim,
      );
      await tx.applyTaskChanges([
        {
          op: 'put',
          task: {
            ...task,
            state: TaskState.Waiting,
            expiresAt: this.clock.now() + QUERY_ANSWER_TTL_MS,
            data: { ...task.data, answer },
          },
        },
      ]);
    });
  }

  /** Removes a query once its answer was read (or its asker gave up). */
  deleteQuery(key: string): Promise<void> {
    return this.store.transaction(async (tx) => tx.applyTaskChanges([{ op: 'delete', key }]));
  }

  private async target(
    uow: UnitOfWork,
    workflowId: string,
    runId: string | undefined,
  ): Promise<Mutation> {
    const m = await uow.find(workflowId, runId);
    if (!m) {
      throw new WorkflowNotFoundError(
        `No workflow with id '${workflowId}'${runId ? ` and run id '${runId}'` : ''} in ${this.store.location}.`,
        workflowId,
        runId,
      );
    }
    return m;
  }

  /**
   * Applies an activity's outcome. The workflow task it schedules is claimed in the same transaction
   * for the reporting worker (`eager`), and completed there too if the worker runs it at once
   * (`eager.runNow`); otherwise its grant is returned.
   */
  private mutateActivity(
    grant: ActivityGrantRef,
    identity: string,
    eager: EagerWorkflowTask | undefined,
    apply: (m: Mutation, task: TaskRecord<'activity'> | undefined) => void,
  ): Promise<WorkflowTaskGrant | undefined> {
    return this.transactRunningNow(
      async (uow, ran) => {
        const { m, task } = await uow.requireWithTask(grant.runId, grant.claim.key);
        apply(m, task as TaskRecord<'activity'> | undefined);
        const { state } = m;
        if (
          !eager ||
          state.taskQueue !== eager.taskQueue ||
          !eager.workflowTypes.has(state.workflowType) ||
          (state.sticky && state.sticky.name !== eager.stickyQueue) ||
          (eager.onlyIfRunNow && !eager.runNow)
        )
          return undefined;
        const scheduled = m.tasks.find(isReadyWorkflowTaskPut);
        if (!scheduled) return undefined;
        // To undo the claim if the worker turns the task down and has no slot to run it later.
        const ready = eager.onlyIfRunNow && {
          task: scheduled.task,
          workflowTask: structuredClone(state.workflowTask),
        };
        const claim = claimWorkflowTask(m, scheduled.task, identity, newClaimToken());
        if (!claim) return undefined;
        scheduled.task = claim.task;
        const next = await workflowTaskGrant(uow.tx, m, claim, eager.historyFrom);
        const run = await eager.runNow?.(next);
        if (!run && ready) {
          // Not claimed after all: the task stays ready for a poller, as scheduled.
          scheduled.task = ready.task;
          state.workflowTask = ready.workflowTask;
          return undefined;
        }
        if (!run) return next;
        const entry: Ran = { task: run, run: m, startedEventId: next.start.startedEventId };
        ran.push(entry); // at once: settled even if the rest of the transaction fails
        entry.outcome = await this.completeRanNow(uow, m, claim.task, next.claim, run, identity);
        return undefined;
      },
      { reads: { runId: grant.runId, taskKey: grant.claim.key } },
    );
  }

  private mutateWorkflow(
    workflowId: string,
    runId: string | undefined,
    apply: (m: Mutation) => void,
    mustBeRunning = false,
    firstExecutionRunId?: string,
  ): Promise<void> {
    return this.transact(async (uow) => {
      const m = await this.target(uow, workflowId, runId);
      // A handle from start() must never reach an unrelated later workflow that reused the id.
      if (
        firstExecutionRunId &&
        (m.state.firstExecutionRunId ?? m.state.runId) !== firstExecutionRunId
      ) {
        throw new WorkflowNotFoundError(
          `Workflow '${workflowId}' has no run in the chain that started with run ${firstExecutionRunId}: the id was reused by another workflow.`,
          workflowId,
          firstExecutionRunId,
        );
      }
      if (mustBeRunning && !isRunning(m.state))
        throw notRunning(workflowId, m.state.runId, m.state.status);
      apply(m);
    });
  }
}

function alreadyStarted(
  workflowId: string,
  workflowType: string,
  why: string,
): WorkflowExecutionAlreadyStartedError {
  return new WorkflowExecutionAlreadyStartedError(
    `Workflow '${workflowId}' ${why}. Wait for it to close, start this one with another workflowId, or choose another id reuse or conflict policy.`,
    workflowId,
    workflowType,
  );
}

function notRunning(workflowId: string, runId: string, status: string): WorkflowNotFoundError {
  return new WorkflowNotFoundError(
    `Workflow '${workflowId}' (run ${runId}) is not running: it is ${status}.`,
    workflowId,
    runId,
  );
}

/** Refuses (as a bad command) search attributes whose type conflicts with the type the name already has. */
async function checkSearchAttributeTypes(tx: StoreTransaction, commands: Command[]): Promise<void> {
  for (const command of commands) {
    const values =
      command.commandType === 'UpsertWorkflowSearchAttributes' ||
      command.commandType === 'StartChildWorkflowExecution' ||
      command.commandType === 'ContinueAsNewWorkflowExecution'
        ? command.attributes.searchAttributes
        : undefined;
    if (!values) continue;
    const types = Object.fromEntries(
      Object.entries(values).flatMap(([name, v]) => (v ? [[name, v.type]] : [])),
    );
    const conflict = await tx.checkSearchAttributeTypes(types);
    if (conflict) throw new BadCommandError(conflict);
  }
}

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
      } else if (task.state === TaskState.Ready) {
        // Nobody took it from its sticky queue in time: any worker may take it now.
        unstick(m, task);
      } else if (task.state === TaskState.Claimed && m.state.workflowTask?.started) {
        timeOutWorkflowTask(m);
      }
      return;
    case TaskKind.Query:
      return;
  }
}

/** A query's lease or its answer's time ran out: a held query goes back to the queue, anything else is dropped. */
function expireQuery(task: TaskRecord<'query'>, now: number): TaskChange {
  if (task.state === TaskState.Claimed) {
    return {
      op: 'put',
      task: {
        ...task,
        state: TaskState.Ready,
        claimedBy: undefined,
        expiresAt: now + QUERY_ANSWER_TTL_MS,
      },
    };
  }
  return { op: 'delete', key: task.key };
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
    const claimedTask = claimActivityTask(task, identity, m.now, newClaimToken());
    change.task = claimedTask;
    // The input is the workflow's own command argument: the activity must get a copy, as it would from the database.
    grants.push(activityTaskGrant({ ...claimedTask, data: roundTrip(claimedTask.data) }, m.now));
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

/** The grant of a workflow task claimed in this transaction; its history is read with the mutation's events already appended. */
async function workflowTaskGrant(
  tx: StoreTransaction,
  m: Mutation,
  claim: { task: TaskRecord<'workflow'>; start: WorkflowTaskStart },
  historyFrom: (runId: string) => number,
  /** The stored history from `historyFrom(runId)`, if already read. */
  read?: HistoryEvent[],
): Promise<WorkflowTaskGrant> {
  const { state } = m;
  const from = historyFrom(state.runId);
  // Nothing to read when every event the worker lacks is still in memory (the usual eager case:
  // its cached copy is current up to this transaction).
  const firstUnwritten = m.events[0]?.eventId ?? state.nextEventId;
  const stored =
    firstUnwritten <= from
      ? []
      : (read?.filter((e) => e.eventId < firstUnwritten) ??
        (await tx.readHistory(state.runId, from)));
  // Events still in memory hold the caller's objects (an activity's result, say): copy them so that
  // the workflow sees exactly what a replay from the database will.
  const unwritten = copyEvents(m.events.filter((e) => e.eventId >= from));
  const history = [...stored, ...unwritten, ...claim.start.transientEvents];
  return {
    claim: { key: claim.task.key, claimToken: claim.task.claimToken },
    runId: state.runId,
    workflowId: state.workflowId,
    workflowType: state.workflowType,
    taskQueue: state.taskQueue,
    start: claim.start,
    history,
  };
}
