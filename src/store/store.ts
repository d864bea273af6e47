/**
 * The storage port. The engine talks to a database only through this interface; each database has
 * one implementation (`sqlite/`, and PostgreSQL next) and all of them pass the same contract suite
 * (`test/store/contract.ts`).
 *
 * The contract:
 * - `transaction(work)` runs `work` atomically: all its writes commit together or none do, and
 *   `work`'s promise settles only after the commit is durable. `work` must await nothing but the
 *   methods of its `StoreTransaction` (an implementation may run several units in one physical
 *   transaction: group commit). Its calls take effect in the order made, even those made without
 *   waiting for the ones before (an implementation may pipeline them): a read made right after a
 *   lock sees the database as it is once the lock is held.
 * - Rows returned by `readyTasks` and `expiredTasks` are held by the transaction until it ends, so
 *   that two processes never claim the same task (one writer on SQLite; `FOR UPDATE SKIP LOCKED` on
 *   PostgreSQL). Claims are fenced by each task's `claimToken`.
 * - Hints (`subscribe`) only cut latency. Every consumer must stay correct when a hint is lost,
 *   e.g. when the change was made by another process: pollers poll anyway.
 */
import type { ExecutionState, ExecutionStatus } from '../state/execution-state.ts';
import type { HistoryEvent } from '../state/events.ts';
import type { TaskChange, TaskKind, TaskRecord } from '../state/tasks.ts';
import type { Clock } from '../engine/clock.ts';
import type { SearchAttributeType, SearchAttributeValue } from '../state/search-attributes.ts';

export interface StoreTransaction {
  /** The run's state, held for update until the transaction ends. */
  getExecution(runId: string): Promise<ExecutionState | undefined>;
  /**
   * Like `getExecution`, but `'locked'` instead of waiting when another transaction holds the run:
   * for paths that found a task first and must not wait for a run (lock order is runs, then tasks).
   */
  tryGetExecution(runId: string): Promise<ExecutionState | 'locked' | undefined>;
  /**
   * The run's state (held for update, as `getExecution`) and one task (held for update, as
   * `getTask`), locked in that order: a completion's two reads in one round trip.
   */
  getExecutionAndTask(
    runId: string,
    taskKey: string,
  ): Promise<{ state: ExecutionState | undefined; task: TaskRecord | undefined }>;
  /** Run id of the running execution of `workflowId`, if one is running. */
  getRunningRunId(workflowId: string): Promise<string | undefined>;
  /** Run id of the most recently started run of `workflowId`. */
  getLatestRunId(workflowId: string): Promise<string | undefined>;
  insertExecution(state: ExecutionState): Promise<void>;
  updateExecution(state: ExecutionState): Promise<void>;
  appendEvents(runId: string, events: HistoryEvent[]): Promise<void>;
  /** Events of the run with ids ≥ `fromEventId`, in order. */
  readHistory(runId: string, fromEventId: number): Promise<HistoryEvent[]>;
  getTask(key: string): Promise<TaskRecord | undefined>;
  applyTaskChanges(changes: TaskChange[]): Promise<void>;
  /**
   * Up to `limit` ready tasks of a queue, held for update; a run's tasks oldest first. Across runs
   * the order is the store's: SQLite's is oldest first; PostgreSQL partitions each queue by run
   * and serves the partitions in turn.
   */
  readyTasks(kind: TaskKind, taskQueue: string, limit: number): Promise<TaskRecord[]>;
  /**
   * `readyTasks` of workflow tasks, each with its run as `tryGetExecution` gives it: what a claim of
   * workflow tasks reads, in one round trip where the store can. It may add the history of a run it
   * now holds, from `historyFrom(runId)` on; without it, the caller reads the history itself.
   */
  readyWorkflowTasks(
    taskQueue: string,
    limit: number,
    historyFrom: (runId: string) => number,
  ): Promise<ReadyWorkflowTask[]>;
  /** Up to `limit` tasks whose `expiresAt` ≤ `now`, soonest first, held for update. */
  expiredTasks(now: number, limit: number): Promise<TaskRecord[]>;
  /** Says (without changing anything) which attribute conflicts with the type its name already has, if any. */
  checkSearchAttributeTypes(
    types: Record<string, SearchAttributeType>,
  ): Promise<string | undefined>;
  /** Records the types of names seen for the first time; returns a conflict like `check…` and records nothing then. */
  registerSearchAttributeTypes(
    types: Record<string, SearchAttributeType>,
  ): Promise<string | undefined>;
  /** Replaces the run's indexed search attribute values. */
  replaceSearchAttributes(
    runId: string,
    values: Record<string, SearchAttributeValue>,
  ): Promise<void>;
}

/** A ready workflow task, held, with its run (see `StoreTransaction.readyWorkflowTasks`). */
export interface ReadyWorkflowTask {
  task: TaskRecord<'workflow'>;
  /** The run, now held by the transaction; 'locked' if another holds it; undefined if it is gone. */
  run: ExecutionState | 'locked' | undefined;
  /** The run's stored events from `historyFrom(runId)` on, when the store read them with it. */
  history?: HistoryEvent[];
}

/** One row of visibility: what `describe()` and listings show. */
export interface ExecutionSummary {
  workflowId: string;
  runId: string;
  workflowType: string;
  taskQueue: string;
  status: ExecutionStatus;
  startTime: number;
  closeTime?: number;
  historyLength: number;
  memo?: Record<string, unknown>;
  searchAttributes?: Record<string, SearchAttributeValue>;
}

export interface ListExecutionsOptions {
  /** A list filter in Keel's query language (src/visibility/list-query.ts); throws `ListQueryError` if malformed. */
  query?: string;
  workflowId?: string;
  status?: ExecutionStatus;
  workflowType?: string;
  /** Newest first; return runs started before this run's start (for paging). */
  pageSize?: number;
  before?: { startTime: number; runId: string };
}

/** What a transaction says of itself ahead, so that a store may prepare for it. */
export interface TransactionOptions {
  /**
   * The run and task the work reads first (with `getExecutionAndTask`): a store that batches
   * transactions may read and lock those of a whole batch in one go. Only a hint: the work must
   * still read them.
   */
  reads?: { runId: string; taskKey: string };
  /**
   * The workflow id whose running run the work looks up first (`getRunningRunId`: a start): a store
   * that batches transactions may look up those of a whole batch in one go. Only a hint, as `reads`.
   */
  readsRunningOf?: string;
}

/** A wake-up hint, emitted after a commit. */
/** A run's status and, once it is closed, the event that closed it (the last of its history). */
export interface RunOutcome {
  status: ExecutionStatus;
  closing?: HistoryEvent;
}

export type StoreHint =
  | { type: 'task-ready'; kind: TaskKind; taskQueue: string }
  | { type: 'expiry'; at: number }
  /**
   * The run closed. `outcome`, when present, is what `getOutcome` now reads (a copy): a waiter needs
   * no read. Absent when the closing event was not written in the same transaction, or (PostgreSQL)
   * did not fit in the notification.
   */
  | { type: 'run-closed'; runId: string; outcome?: RunOutcome }
  /** The run's state changed (an update progressed, a signal arrived, ...). */
  | { type: 'run-updated'; runId: string }
  /** A worker answered the query stored under `key`. */
  | { type: 'query-answered'; key: string }
  /** Another process changed the database: anything may have happened. */
  | { type: 'external-change' };

/** Whether anything can happen without time passing; what the time-skipping test clock needs. */
export interface PendingWork {
  /** Tasks ready to be claimed or held by a worker. */
  active: number;
  /** Soonest `expiresAt` of the waiting tasks (timers, backoffs, run timeouts). */
  nextWaitingExpiry?: number;
}

export interface Store {
  /** Where the data lives, for messages (e.g. `sqlite:/srv/keel.db`). */
  readonly location: string;
  /**
   * True if processes on other hosts may share it (PostgreSQL). Workers then route a run's tasks
   * to the worker that has it cached (sticky queues); on a one-process store every worker is local.
   */
  readonly sharedByProcesses: boolean;
  /** The time every engine on this store uses: the system clock, or a test's virtual clock. */
  readonly clock: Clock;
  /**
   * Expiry hints for times further ahead than this may not reach other processes (PostgreSQL
   * announces only the near ones): an expiry scanner must look at the store at least this often.
   * Undefined: every hint reaches every listener.
   */
  readonly expiryHintHorizonMs?: number;
  transaction<T>(
    work: (tx: StoreTransaction) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T>;
  getExecution(runId: string): Promise<ExecutionState | undefined>;
  /** The given run of `workflowId`, or its latest run. */
  findExecution(workflowId: string, runId?: string): Promise<ExecutionSummary | undefined>;
  listExecutions(options?: ListExecutionsOptions): Promise<ExecutionSummary[]>;
  /** How many runs match a list filter. */
  countExecutions(query: string): Promise<number>;
  readHistory(runId: string, fromEventId?: number): Promise<HistoryEvent[]>;
  /**
   * The run's status and, once it is closed, the event that closed it (the last of its history),
   * in one read: what a caller waiting for a result needs. Undefined if there is no such run.
   */
  getOutcome(runId: string): Promise<RunOutcome | undefined>;
  getTask(key: string): Promise<TaskRecord | undefined>;
  /** Every search attribute name used so far, with its type. */
  searchAttributeTypes(): Promise<Map<string, SearchAttributeType>>;
  /** The run's activity tasks (pending activities with their attempt state). */
  activityTasks(runId: string): Promise<TaskRecord<'activity'>[]>;
  /** Soonest `expiresAt` of any task, to know how long the expiry scanner may sleep. */
  nextExpiry(): Promise<number | undefined>;
  pendingWork(): Promise<PendingWork>;
  subscribe(listener: (hint: StoreHint) => void): () => void;
  /**
   * On a store shared by processes, makes this process a candidate to be the first responder of
   * `taskQueue`'s `kind` tasks: of all the processes polling them, one at a time answers their
   * ready hints at once, and idle others later, so that light work stays in one process (with its
   * caches and compiled code warm) instead of every process waking to race for each task. The
   * seat passes to another candidate when its holder withdraws or loses its connection. Undefined
   * on one-process stores, where every worker answers at once.
   */
  firstResponder?(taskQueue: string, kind: PolledTaskKind): FirstResponderSeat;
  close(): Promise<void>;
}

/** The kinds of task that workers poll a task queue for. */
export type PolledTaskKind = 'workflow' | 'activity';

/** A process's candidacy to answer a task queue's hints first (`Store.firstResponder`). */
export interface FirstResponderSeat {
  /** Whether this process holds the seat now. */
  readonly held: boolean;
  /** Ends the candidacy (the last of the process's candidates gives the seat up). */
  withdraw(): void;
}
