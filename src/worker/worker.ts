/**
 * The worker: polls one task queue for workflow and activity tasks, runs them, and (in every worker
 * process) fires timers and timeouts whose time came.
 *
 * Lifecycle: INITIALIZED → RUNNING (`run()`) → STOPPING (`shutdown()`, SIGINT, SIGTERM) → STOPPED
 * (`run()` resolves). Stopping: polling stops at once, running workflow tasks finish, running
 * activities get `shutdownGraceTime` to finish before they are cancelled; every result is written
 * in a transaction, so nothing is left half-written.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { toMs, type Duration } from '../common/duration.ts';
import { IllegalStateError } from '../common/errors.ts';
import { consoleLogger } from '../common/logger.ts';
import { Engine } from '../engine/engine.ts';
import type { RunNow } from '../engine/run-now.ts';
import type { WorkflowFunction } from '../runtime/activator.ts';
import { maybeActivator } from '../runtime/context.ts';
import { installWorkflowGuards } from '../runtime/global-guards.ts';
import type { WorkflowLogger } from '../runtime/workflow-info.ts';
import { openStore } from '../store/open-store.ts';
import type { StickyQueue } from '../state/execution-state.ts';
import type { FirstResponderSeat, PolledTaskKind, Store, StoreHint } from '../store/store.ts';
import { TaskKind } from '../state/tasks.ts';
import type { ActivityFunction } from '../workflow/activities.ts';
import { ActivityExecutor } from './activity-executor.ts';
import type { Dispatch } from './dispatch.ts';
import { Slots } from './slots.ts';
import { ModuleStateWatch } from './module-state-watch.ts';
import {
  replayHistories,
  replayHistory,
  type ReplayOptions,
  type ReplayResult,
} from '../replay/replay.ts';
import { Wakeup } from '../common/wakeup.ts';
import { WorkflowTaskExecutor } from './workflow-task-executor.ts';

installWorkflowGuards();

export interface WorkerOptions {
  /** An open store to use (shared with a client, say). Give this or `connection`. */
  store?: Store;
  /**
   * A SQLite file path (created if missing) or a `postgres://` URL: the worker opens a store of its
   * own and closes it when it stops. On PostgreSQL that store hears only of work (tasks ready,
   * timers due), not of runs closing.
   */
  connection?: string;
  /** The task queue this worker polls. */
  taskQueue: string;
  /**
   * Workflow functions by type name: usually the module namespace, `import * as workflows from './workflows.ts'`.
   * No bundling: the functions run as they are (see docs/design.md).
   */
  workflows?: Record<string, unknown>;
  /** Path of a module whose exported functions are the workflows (alternative to `workflows`). */
  workflowsPath?: string;
  /** Activity implementations by type name, e.g. `import * as activities from './activities.ts'`. */
  activities?: Record<string, unknown>;
  /** Workflow tasks run at once. @defaultValue 40 */
  maxConcurrentWorkflowTaskExecutions?: number;
  /** Activity attempts run at once. @defaultValue 100 */
  maxConcurrentActivityTaskExecutions?: number;
  /** Live workflows kept in memory so that their next task needs no replay; 0 replays every task. @defaultValue 1000 */
  maxCachedWorkflows?: number;
  /**
   * On a store shared by processes (PostgreSQL), a run's next workflow task goes first to the worker
   * that has it cached (its sticky queue), and to any worker if that one has not taken it within
   * this time (it died, say). A worker shutting down hands its runs back at once. 0 turns sticky
   * queues off; so does `maxCachedWorkflows: 0`. @defaultValue '10s'
   */
  stickyQueueScheduleToStartTimeout?: Duration;
  /** How long running activities may go on after shutdown starts before they are cancelled. @defaultValue '10s' */
  shutdownGraceTime?: Duration;
  /** Poll interval when no wake-up hint arrives (other processes' changes). @defaultValue 1000 ms */
  pollIntervalMs?: number;
  /** Shut down gracefully on SIGINT and SIGTERM. @defaultValue true */
  handleSignals?: boolean;
  /** History length at which `workflowInfo().continueAsNewSuggested` turns true. @defaultValue 10000 */
  continueAsNewSuggestedAtHistoryLength?: number;
  /**
   * @internal Run a workflow task inside the transaction that hands it to this worker (after an
   * activity it reported, or at its claim) when the worker can without waiting or reading, so that
   * one commit records both (docs/design.md). False: tests that act in the middle of a workflow task.
   * @defaultValue true
   */
  runWorkflowTasksNow?: boolean;
  /** Names this worker in the history. @defaultValue `pid@hostname` */
  identity?: string;
  logger?: WorkflowLogger;
}

export type WorkerState = 'INITIALIZED' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'FAILED';

/**
 * @example
 * const worker = await Worker.create({
 *   connection: './keel.db',
 *   taskQueue: 'orders',
 *   workflows,            // import * as workflows from './workflows.ts'
 *   activities,           // import * as activities from './activities.ts'
 * });
 * await worker.run();     // until worker.shutdown(), SIGINT or SIGTERM
 */
/** How soon a poller looks again at tasks it left because another transaction held their run. */
const BUSY_RETRY_MS = 10;

/**
 * How soon an idle worker that is not its queue's first responder (see `Store.firstResponder`)
 * looks at tasks a hint announced: the first responder has usually taken them by then. A burst of
 * hints makes one look, and a worker with tasks in hand answers at once, so load still spreads.
 */
const FOLLOWER_DELAY_MS = 100;

/** The slots one claim of a polling loop holds. */
interface ClaimSlots {
  /** Reserved for the claim: it takes at most this many tasks. */
  readonly reserved: number;
  /** What is left of the reservation: less the slots already given back with `releaseOne`. */
  readonly free: () => number;
  /** Gives back the slot of a task done within the claim (run in its transaction). */
  readonly releaseOne: () => void;
}

export class Worker {
  #state: WorkerState = 'INITIALIZED';
  #activityTypeNames?: ReadonlySet<string>;
  #workflowTypeNames?: ReadonlySet<string>;
  readonly identity: string;
  readonly taskQueue: string;
  readonly engine: Engine;
  private readonly workflowExecutor: WorkflowTaskExecutor;
  private readonly activityExecutor: ActivityExecutor;
  private readonly logger: WorkflowLogger;
  private readonly wakeups = {
    workflow: new Wakeup(),
    activity: new Wakeup(),
    expiry: new Wakeup(),
  };
  /** When the expiry scanner wakes next; -Infinity while it scans. */
  private nextExpiryWake = Infinity;
  /** Set by query hints (and the fallbacks): the workflow poller then also claims queries. */
  private queriesMaybeReady = true;
  /** This worker's sticky queue; undefined when sticky queues are off. */
  private readonly sticky: StickyQueue | undefined;
  /** Set by hints for the sticky queue (and the fallbacks): the workflow poller then looks there. */
  private stickyMaybeReady = true;
  private earliestHintDuringScan = Infinity;
  private readonly inFlight = {
    workflow: new Set<Promise<void>>(),
    activity: new Set<Promise<void>>(),
  };
  private readonly slots: { workflow: Slots; activity: Slots };
  private readonly stopping: { promise: Promise<void>; resolve: () => void };
  private unsubscribe?: () => void;
  /** Candidacies to answer the queue's hints first (shared stores), by the kind of task polled. */
  private readonly seats: Partial<Record<PolledTaskKind, FirstResponderSeat>> = {};

  private constructor(
    private readonly options: WorkerOptions,
    private readonly store: Store,
    private readonly ownsStore: boolean,
    private readonly workflowTypes: Map<string, WorkflowFunction>,
    private readonly activityTypes: Map<string, ActivityFunction>,
    workflowSources: Record<string, unknown>[] = [],
  ) {
    this.identity = options.identity ?? `${process.pid}@${hostname()}`;
    this.taskQueue = options.taskQueue;
    this.logger = options.logger ?? consoleLogger();
    this.engine = new Engine(store);
    this.slots = {
      workflow: new Slots(options.maxConcurrentWorkflowTaskExecutions ?? 40),
      activity: new Slots(options.maxConcurrentActivityTaskExecutions ?? 100),
    };
    const stickyTimeout = toMs(
      options.stickyQueueScheduleToStartTimeout ?? '10s',
      'stickyQueueScheduleToStartTimeout',
    );
    if (store.sharedByProcesses && stickyTimeout > 0 && (options.maxCachedWorkflows ?? 1000) > 0)
      this.sticky = {
        name: `${this.taskQueue}/sticky/${this.identity}/${randomUUID()}`,
        scheduleToStartTimeout: stickyTimeout,
      };
    const dispatch = this.eagerDispatch();
    this.workflowExecutor = new WorkflowTaskExecutor(
      this.engine,
      workflowTypes,
      this.identity,
      this.logger,
      options.maxCachedWorkflows ?? 1000,
      dispatch,
      options.continueAsNewSuggestedAtHistoryLength !== undefined
        ? { continueAsNewSuggestedAt: options.continueAsNewSuggestedAtHistoryLength }
        : {},
      workflowSources.map((source) => new ModuleStateWatch(source, this.logger)),
    );
    this.activityExecutor = new ActivityExecutor(
      this.engine,
      activityTypes,
      this.identity,
      this.logger,
      dispatch,
    );
    let resolveStopping!: () => void;
    this.stopping = {
      promise: new Promise((r) => (resolveStopping = r)),
      resolve: resolveStopping,
    };
  }

  /** Checks the options, loads `workflowsPath` if given, opens the store; the worker polls once `run()` is called. */
  static async create(options: WorkerOptions): Promise<Worker> {
    if (!options || typeof options.taskQueue !== 'string' || options.taskQueue === '') {
      throw new TypeError('Worker.create needs a taskQueue (a non-empty string).');
    }
    if (!options.store && !options.connection) {
      throw new TypeError(
        `Worker.create needs a store or a connection (a SQLite file path such as './keel.db').`,
      );
    }
    // Module namespaces are kept as they are (not copied): their exports are live bindings.
    const workflowSources = [options.workflows ?? {}];
    if (options.workflowsPath) {
      workflowSources.push(
        (await import(pathToFileURL(resolve(options.workflowsPath)).href)) as Record<
          string,
          unknown
        >,
      );
    }
    const workflows = new Map([
      ...workflowSources.flatMap((source) => [...functionsOf(source)]),
    ]) as Map<string, WorkflowFunction>;
    const activities = functionsOf(options.activities ?? {}) as Map<string, ActivityFunction>;
    if (workflows.size === 0 && activities.size === 0) {
      throw new TypeError('Worker.create needs workflows (or workflowsPath) or activities to run.');
    }
    for (const [name, value] of [
      ['maxConcurrentWorkflowTaskExecutions', options.maxConcurrentWorkflowTaskExecutions],
      ['maxConcurrentActivityTaskExecutions', options.maxConcurrentActivityTaskExecutions],
    ] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1))
        throw new TypeError(`Invalid ${name}: ${value}; expected a whole number of at least 1.`);
    }
    toMs(options.shutdownGraceTime ?? 0, 'shutdownGraceTime');
    toMs(options.stickyQueueScheduleToStartTimeout ?? 0, 'stickyQueueScheduleToStartTimeout');
    // A store of its own hears only of work: not of every run that any worker closes.
    const store = options.store ?? openStore(options.connection!, { hints: 'work' });
    return new Worker(options, store, !options.store, workflows, activities, workflowSources);
  }

  /**
   * Replays a saved history against `workflows` and throws `DeterminismViolationError` if the code
   * now makes different commands: run it in CI over histories of runs in flight before deploying.
   *
   * @example
   * await Worker.runReplayHistory({ workflows }, JSON.parse(readFileSync('histories/order-42.json', 'utf8')));
   */
  static runReplayHistory(options: ReplayOptions, history: unknown): Promise<void> {
    return replayHistory(options, history);
  }

  /** Replays many histories; yields each one's outcome (with `error` when it diverged). */
  static runReplayHistories(
    options: ReplayOptions,
    histories: Iterable<unknown> | AsyncIterable<unknown>,
  ): AsyncIterable<ReplayResult> {
    return replayHistories(options, histories);
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** Polls and runs tasks until `shutdown()` (or SIGINT/SIGTERM); resolves once everything in flight is done. */
  async run(): Promise<void> {
    if (this.#state !== 'INITIALIZED')
      throw new IllegalStateError(`Worker.run() was called on a worker in state ${this.#state}.`);
    this.#state = 'RUNNING';
    const onSignal = () => this.shutdown();
    if (this.options.handleSignals ?? true) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    installUnhandledRejectionGuard();
    this.unsubscribe = this.store.subscribe((hint) => this.onHint(hint));
    if (this.store.firstResponder) {
      if (this.workflowTypes.size > 0)
        this.seats.workflow = this.store.firstResponder(this.taskQueue, 'workflow');
      if (this.activityTypes.size > 0)
        this.seats.activity = this.store.firstResponder(this.taskQueue, 'activity');
    }
    try {
      await Promise.all([
        this.pollWorkflowTasks(),
        this.pollActivityTasks(),
        this.fireExpiredTasks(),
      ]);
      await this.drain();
      this.#state = 'STOPPED';
    } catch (error) {
      this.#state = 'FAILED';
      throw error;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      this.unsubscribe?.();
      for (const seat of Object.values(this.seats)) seat.withdraw();
      if (this.ownsStore) await this.store.close();
    }
  }

  /** Runs until `promise` settles, then shuts down; returns (or throws) what the promise did. */
  async runUntil<T>(promise: Promise<T>): Promise<T> {
    const running = this.run();
    try {
      return await promise;
    } finally {
      this.shutdown();
      await running;
    }
  }

  /** Starts a graceful shutdown; `run()` resolves when it is complete. */
  shutdown(): void {
    if (this.#state !== 'RUNNING') return;
    this.#state = 'STOPPING';
    this.logger.log('info', `Worker ${this.identity} shutting down`, { taskQueue: this.taskQueue });
    this.stopping.resolve();
    for (const wakeup of Object.values(this.wakeups)) wakeup.notify();
  }

  private get running(): boolean {
    return this.#state === 'RUNNING';
  }

  private onHint(hint: StoreHint): void {
    if (hint.type === 'external-change') {
      this.queriesMaybeReady = true;
      for (const wakeup of Object.values(this.wakeups)) wakeup.notify();
    } else if (hint.type === 'task-ready' && hint.taskQueue === this.taskQueue) {
      if (hint.kind === TaskKind.Query) {
        this.queriesMaybeReady = true;
        this.wakeups.workflow.notify();
        return;
      }
      const kind = hint.kind === TaskKind.Activity ? 'activity' : 'workflow';
      if (this.answersAtOnce(kind)) this.wakeups[kind].notify();
      else this.wakeups[kind].notifyWithin(FOLLOWER_DELAY_MS);
    } else if (hint.type === 'task-ready' && hint.taskQueue === this.sticky?.name) {
      this.stickyMaybeReady = true;
      this.wakeups.workflow.notify();
    } else if (hint.type === 'expiry') {
      if (this.nextExpiryWake === -Infinity)
        this.earliestHintDuringScan = Math.min(this.earliestHintDuringScan, hint.at);
      else if (hint.at < this.nextExpiryWake) this.wakeups.expiry.notify();
    }
  }

  /**
   * Whether a hint of ready `kind` tasks on the queue is answered at once: always on a one-process
   * store; on a shared one by the first responder, and by a worker already running tasks.
   */
  private answersAtOnce(kind: PolledTaskKind): boolean {
    const seat = this.seats[kind];
    if (!seat || seat.held) return true;
    const { workflow, activity } = this.slots;
    return workflow.free < workflow.max || activity.free < activity.max;
  }

  private get pollIntervalMs(): number {
    return this.options.pollIntervalMs ?? 1000;
  }

  private async pollWorkflowTasks(): Promise<void> {
    // A worker without workflows must not claim workflow tasks it would only fail.
    if (this.workflowTypes.size === 0) return;
    await this.poll('workflow', async ({ reserved, free, releaseOne }) => {
      // Slots of tasks the claim ran in its transaction come back as they end; what is left of the
      // reservation is for the tasks it hands over, then for queries.
      const { historyFrom } = this.workflowExecutor;
      // The sticky queue is read only when a task may wait there: an extra read on every poll
      // would cost more than it finds.
      const sticky = this.stickyMaybeReady ? this.sticky?.name : undefined;
      this.stickyMaybeReady = false;
      let claimed;
      try {
        claimed = await this.engine.claimWorkflowTasks(
          this.taskQueue,
          reserved,
          this.identity,
          historyFrom,
          sticky,
          this.runNowIn(releaseOne),
        );
      } catch (error) {
        if (sticky) this.stickyMaybeReady = true;
        throw error;
      }
      // Tasks it could not take (their run was busy) stay there: look again on the retry.
      if (sticky && (claimed.more || claimed.left)) this.stickyMaybeReady = true;
      const jobs = claimed.grants.map((grant) => () => this.workflowExecutor.execute(grant));
      let { more } = claimed;
      let busy = claimed.left;
      // Queries share the workflow slots; they are answered from the cache or by replay. Claimed
      // only when one may be waiting: most wake-ups are for workflow tasks, and an empty claim
      // still costs a transaction.
      if (jobs.length < free() && this.queriesMaybeReady) {
        this.queriesMaybeReady = false;
        try {
          const queries = await this.engine.claimQueryTasks(
            this.taskQueue,
            free() - jobs.length,
            this.identity,
          );
          jobs.push(
            ...queries.grants.map((grant) => () => this.workflowExecutor.executeQuery(grant)),
          );
          // Left ones wait for their run: a busy run is retried soon, one without its first task
          // when that completes (firstTaskCompleted), else at a hint or the poll interval.
          if (queries.more || queries.left || queries.waiting) this.queriesMaybeReady = true;
          more ||= queries.more;
          busy ||= queries.left;
        } catch (error) {
          this.queriesMaybeReady = true;
          // The workflow tasks above are claimed (committed): they must run even if this fails.
          if (jobs.length === 0) throw error;
          this.logger.log(
            'warn',
            `Claiming queries failed, retried at the next poll: ${(error as Error).message}`,
          );
        }
      }
      return { jobs, more, busy };
    });
  }

  private async pollActivityTasks(): Promise<void> {
    if (this.activityTypes.size === 0) return;
    await this.poll('activity', async ({ reserved }) => {
      const claimed = await this.engine.claimActivityTasks(this.taskQueue, reserved, this.identity);
      return {
        jobs: claimed.grants.map((grant) => () => this.activityExecutor.execute(grant)),
        more: claimed.more,
        busy: false,
      };
    });
  }

  /**
   * One polling loop: reserve free slots, claim at most that many tasks, run them; claim again at
   * once if the queue may hold more, else sleep until a hint, a freed slot or the poll interval.
   */
  private async poll(
    kind: PolledTaskKind,
    claim: (
      slots: ClaimSlots,
    ) => Promise<{ jobs: (() => Promise<void>)[]; more: boolean; busy: boolean }>,
  ): Promise<void> {
    const slots = this.slots[kind];
    const wakeup = this.wakeups[kind];
    while (this.running) {
      if (slots.free <= 0) {
        await Promise.race([slots.whenFree(), this.stopping.promise]);
        continue;
      }
      wakeup.reset();
      // On a shared store, half the free slots at most: the rest stay for eager dispatch (the next
      // task of a run handed over in the transaction that scheduled it), which a poll waiting on the
      // network would otherwise starve. On SQLite a claim is quick, and smaller ones cost throughput.
      const reserved = slots.acquire(
        this.store.sharedByProcesses ? Math.ceil(slots.free / 2) : slots.free,
      );
      let jobs: (() => Promise<void>)[] = [];
      let more = false;
      let busy = false;
      // Slots of tasks done within the claim (run in its transaction) come back as they finish.
      let releasedEarly = 0;
      const claimSlots: ClaimSlots = {
        reserved,
        free: () => reserved - releasedEarly,
        releaseOne: () => {
          releasedEarly++;
          slots.release(1);
        },
      };
      try {
        ({ jobs, more, busy } = await claim(claimSlots));
      } catch (error) {
        this.logger.log('error', `Polling ${kind} tasks failed: ${(error as Error).message}`);
      } finally {
        slots.release(reserved - releasedEarly - jobs.length);
      }
      for (const job of jobs) this.track(kind, job);
      if (more) continue;
      // A hint since reset() ends the wait at once. Tasks left because their run was busy are
      // retried soon (the transaction holding it is short); a wait that times out is the fallback
      // for lost hints, so it also looks for queries.
      const notified = await wakeup.wait(busy ? BUSY_RETRY_MS : this.pollIntervalMs);
      if (!notified && !busy && kind === 'workflow') {
        this.queriesMaybeReady = true;
        this.stickyMaybeReady = true;
      }
    }
  }

  /** Runs a task in a slot already acquired, releasing it when done. */
  private track(kind: PolledTaskKind, job: () => Promise<void>): void {
    const inFlight = this.inFlight[kind];
    const running: Promise<void> = job()
      .catch((error: unknown) =>
        this.logger.log(
          'error',
          `A ${kind} task failed unexpectedly: ${(error as Error).stack ?? String(error)}`,
        ),
      )
      .finally(() => {
        inFlight.delete(running);
        this.slots[kind].release();
      });
    inFlight.add(running);
  }

  /** Eager dispatch (see `Dispatch`), only while running and for what this worker runs. */
  private eagerDispatch(): Dispatch {
    return {
      reserveActivities: (n) => {
        if (!this.running || this.activityTypes.size === 0) return undefined;
        const max = this.slots.activity.acquire(n);
        if (max === 0) return undefined;
        return { taskQueue: this.taskQueue, activityTypes: this.activityTypeNames, max };
      },
      releaseActivities: (n) => this.slots.activity.release(n),
      runActivity: (grant) => this.track('activity', () => this.activityExecutor.execute(grant)),
      reserveWorkflowTask: () => {
        if (!this.running || this.workflowTypes.size === 0) return undefined;
        // A task run in the transaction needs no slot: with none free, only such a task is taken.
        const slot = this.slots.workflow.acquire(1) === 1;
        if (!slot && !this.runNow) return undefined;
        return {
          taskQueue: this.taskQueue,
          workflowTypes: this.workflowTypeNames,
          historyFrom: this.workflowExecutor.historyFrom,
          ...(this.runNow ? { runNow: this.runNow } : {}),
          ...(slot ? {} : { onlyIfRunNow: true }),
          ...(this.sticky ? { stickyQueue: this.sticky.name } : {}),
        };
      },
      releaseWorkflowTask: () => this.slots.workflow.release(),
      runWorkflowTask: (grant) =>
        this.track('workflow', () => this.workflowExecutor.execute(grant)),
      firstTaskCompleted: () => {
        if (this.queriesMaybeReady) this.wakeups.workflow.notify();
      },
      // Not while stopping: runs completed from now on are not handed back by the release.
      stickyQueue: () => (this.running ? this.sticky : undefined),
    };
  }

  private get runNow(): RunNow | undefined {
    return this.options.runWorkflowTasksNow === false ? undefined : this.workflowExecutor.runNow;
  }

  /**
   * `runNow` for a claim: a task it runs gives its slot back as soon as its transaction committed,
   * before its eager activities start (whose results may bring the run's next task at once). A
   * task of a transaction that did not commit keeps it: the store may run the claim again, and
   * hand the task over then.
   */
  private runNowIn(releaseOne: () => void): RunNow | undefined {
    const { runNow } = this;
    if (!runNow) return undefined;
    return async (grant) => {
      const run = await runNow(grant);
      return (
        run && {
          ...run,
          settle: (outcome) => {
            if (outcome) releaseOne();
            run.settle(outcome);
          },
        }
      );
    };
  }

  private get activityTypeNames(): ReadonlySet<string> {
    return (this.#activityTypeNames ??= new Set(this.activityTypes.keys()));
  }

  private get workflowTypeNames(): ReadonlySet<string> {
    return (this.#workflowTypeNames ??= new Set(this.workflowTypes.keys()));
  }

  /** Fires timers and timeouts whose time came; sleeps until the next one (or a hint of an earlier one). */
  private async fireExpiredTasks(): Promise<void> {
    const wakeup = this.wakeups.expiry;
    const batch = 256;
    while (this.running) {
      // While scanning, expiry hints only lower the next wake-up time: waking for each of them
      // (every claim sets a lease) would rescan continuously under load.
      this.nextExpiryWake = -Infinity;
      this.earliestHintDuringScan = Infinity;
      wakeup.reset();
      let next: number | undefined;
      try {
        const fired = await this.engine.fireExpiredTasks(batch);
        if (fired === batch) continue;
        next = await this.store.nextExpiry();
      } catch (error) {
        this.logger.log('error', `Firing timers failed: ${(error as Error).message}`);
      }
      next = Math.min(next ?? Infinity, this.earliestHintDuringScan);
      const now = this.engine.clock.now();
      // Hints of expiries further ahead than the store's horizon may never come: look again by then.
      const longest = Math.min(this.pollIntervalMs, this.store.expiryHintHorizonMs ?? Infinity);
      // At least a few ms when something is due but was left (its run was busy): no busy loop.
      const delay = next === Infinity ? longest : Math.min(Math.max(5, next - now), longest);
      this.nextExpiryWake = now + delay;
      if (delay > 0) await wakeup.wait(delay);
    }
  }

  /** Hands this worker's sticky runs back to the shared queue: they need not wait for the sticky timeout. */
  private async releaseStickyQueue(): Promise<void> {
    if (!this.sticky) return;
    try {
      await this.engine.releaseStickyQueue(this.sticky.name, this.workflowExecutor.cache.runIds());
    } catch (error) {
      // Not fatal: the runs move to the shared queue after the sticky timeout anyway.
      this.logger.log(
        'warn',
        `Could not hand back the sticky queue's runs: ${(error as Error).message}; they move after the sticky timeout.`,
      );
    }
  }

  /** Lets workflow tasks finish, gives activities the grace time, then cancels the rest and waits for their reports. */
  private async drain(): Promise<void> {
    await Promise.allSettled(this.inFlight.workflow);
    await this.releaseStickyQueue();
    const grace = toMs(this.options.shutdownGraceTime ?? '10s', 'shutdownGraceTime');
    const activities = Promise.allSettled(this.inFlight.activity);
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace-over'>(
      (r) => (graceTimer = setTimeout(() => r('grace-over'), grace)),
    );
    if ((await Promise.race([activities, graceOver])) === 'grace-over') {
      for (const context of this.activityExecutor.running) context.cancel('WORKER_SHUTDOWN');
      await activities;
    }
    clearTimeout(graceTimer);
  }
}

/** The functions of a module namespace or plain object, by name. */
function functionsOf(source: Record<string, unknown>): Map<string, (...args: any[]) => unknown> {
  const map = new Map<string, (...args: any[]) => unknown>();
  for (const [name, value] of Object.entries(source)) {
    if (typeof value === 'function') map.set(name, value as (...args: any[]) => unknown);
  }
  return map;
}

const guardInstalled = Symbol.for('keel.unhandledRejectionGuard');

/**
 * A promise rejected in workflow code and not handled (yet) must not crash the worker: it is logged
 * against its workflow. Rejections elsewhere keep Node's default (crash) unless the application
 * listens for them itself.
 */
function installUnhandledRejectionGuard(): void {
  const g = globalThis as typeof globalThis & { [guardInstalled]?: boolean };
  if (g[guardInstalled]) return;
  g[guardInstalled] = true;
  const listener = (reason: unknown): void => {
    const activator = maybeActivator();
    if (activator) {
      if (!activator.isReplaying) {
        activator.logger.log(
          'warn',
          `Unhandled rejection in workflow code: ${(reason as Error)?.message ?? String(reason)}`,
          {
            workflowId: activator.info.workflowId,
            runId: activator.info.runId,
          },
        );
      }
      return;
    }
    if (process.listenerCount('unhandledRejection') > 1) return;
    throw reason;
  };
  process.on('unhandledRejection', listener);
}
