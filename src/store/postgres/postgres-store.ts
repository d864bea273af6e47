/**
 * The PostgreSQL store: any number of workers and clients on any number of hosts share one
 * database. Correctness rests on row locks, never on hints:
 *
 * - Every change to a run locks its `executions` row (`FOR UPDATE`) for the transaction: changes to
 *   one run are serialised across processes.
 * - Claims take tasks with `FOR UPDATE SKIP LOCKED`, so concurrent pollers never wait on (or take)
 *   each other's rows; a claim is fenced by the task's random claim token, so a worker whose lease
 *   expired cannot complete the task after another took it.
 * - Lock order is executions before tasks. The two paths that find tasks first (workflow task
 *   claims, the expiry scanner) take the run's row with `SKIP LOCKED` and leave the task for later
 *   if the run is busy, so they never wait in the wrong order.
 *
 * Hints travel by `LISTEN/NOTIFY` (sent in the committing transaction, so only committed changes are
 * announced); pollers poll anyway. Transient errors (connection lost, server restarting,
 * serialization failures, deadlocks) retry the whole transaction with backoff; nothing else is
 * retried. A connection lost during COMMIT leaves its outcome unknown; the retry then meets the
 * engine's own guards (a task already completed is refused with TaskLostError).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { StoreError } from '../../common/errors.ts';
import { systemClock, type Clock } from '../../engine/clock.ts';
import type { ExecutionState } from '../../state/execution-state.ts';
import type { HistoryEvent } from '../../state/events.ts';
import type { SearchAttributeType } from '../../state/search-attributes.ts';
import { runOfTaskKey, type TaskRecord } from '../../state/tasks.ts';
import { compilePostgresFilter } from '../../visibility/postgres-filter.ts';
import type {
  ExecutionSummary,
  FirstResponderSeat,
  ListExecutionsOptions,
  PendingWork,
  PolledTaskKind,
  RunOutcome,
  Store,
  StoreHint,
  StoreTransaction,
  TransactionOptions,
} from '../store.ts';
import { HintListeners } from '../hints.ts';
import { breaksConnection, isStaleKnownRow, isTransient } from './errors.ts';
import {
  PostgresTransaction,
  QUEUE_PARTITIONS,
  READ_HISTORY,
  TASK_COLUMNS,
} from './postgres-transaction.ts';
import {
  eventFromRow,
  outcomeFromRow,
  summaryFromRow,
  taskFromRow,
  type EventRow,
  type ExecutionRow,
  type OutcomeRow,
  type TaskRow,
} from '../rows.ts';
import { migratePostgres, quoteIdent } from './migrations.ts';
import { PostgresBatch } from './batch.ts';
import { FirstResponderSeats } from './first-responders.ts';
import { KnownRows } from './known-rows.ts';
import type { RowsWritten } from './pending-writes.ts';
import { StatementPipeline } from './statement-pipeline.ts';
import {
  channelsFor,
  hintChannels,
  notificationsOf,
  type HintAudience,
  type HintChannels,
  type Notification,
} from './notifications.ts';

export interface PostgresStoreOptions {
  /** Schema holding Keel's tables (created if missing). @defaultValue 'keel' (or `?schema=` in the URL) */
  schema?: string;
  /** Connections in this process's pool. Size it to the concurrent store operations a process makes (see docs/scaling-out.md). @defaultValue 10 */
  maxConnections?: number;
  /** How long to wait for a free connection or a new one. @defaultValue 10000 ms */
  connectionTimeoutMs?: number;
  /** Attempts of a transaction that fails transiently, the first included. @defaultValue 8 */
  maxAttempts?: number;
  /**
   * How long to keep trying to connect while the server is unreachable or restarting (with
   * backoff up to 2 s between tries) before an operation fails. @defaultValue 30000 ms
   */
  reconnectTimeoutMs?: number;
  /**
   * Transactions this process runs at most at once, each committing a batch of the units queued
   * meanwhile (one connection each). One runs while the queue is short; more open for a backlog
   * (heavy load, a batch waiting on a lock). @defaultValue 3
   */
  batchLanes?: number;
  /**
   * Under load, how long a batch may wait for more units before it starts while no other batch of
   * this process runs: until as many are queued as the last batch held, at most this long. Fewer,
   * bigger transactions cost the server less per unit; a unit arriving alone after a lone unit
   * never waits, so work done one at a time is not slowed. 0 starts every batch at once.
   * @defaultValue 2 ms
   */
  batchGatherMs?: number;
  /**
   * The server ends a session that stays this long inside a transaction without sending anything
   * (its process hung, or the network between them broke), so that the rows it locked are free for
   * the other workers. Keel's transactions never pause between statements. @defaultValue 15000 ms
   */
  idleInTransactionTimeoutMs?: number;
  /**
   * Which hints this process hears from the others: `'work'` (tasks ready, timers due) is all a
   * process that only runs workers needs, `'runs'` (runs closed or updated, queries answered) all
   * one that only runs clients needs. Hearing less wakes the process less: a worker that opens its
   * own store from a connection string hears `'work'`, a client `'runs'`. @defaultValue 'all'
   */
  hints?: HintAudience;
  /**
   * Remember the rows this process wrote last, so that completing a task it holds needs no read of
   * them: one round trip per completion instead of two (a check sent with the transaction fails it
   * if another process changed them meanwhile, and it runs again, reading). Off: every completion
   * reads them first. @defaultValue true
   */
  rememberWrittenRows?: boolean;
  /** @internal a test's virtual clock */
  clock?: Clock;
}

interface Unit {
  work: (tx: StoreTransaction) => Promise<unknown>;
  options: TransactionOptions | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Expiry hints due later than this are not announced to other processes: their expiry scanners
 * look at the database at least this often (`Store.expiryHintHorizonMs`).
 */
const ANNOUNCED_EXPIRY_HORIZON_MS = 1000;
/** Units per batch: bounds how long one transaction holds its row locks. */
const MAX_BATCH = 64;
/** Units waiting behind a running batch that open another lane (see `pump`). */
const BACKLOG_FOR_ANOTHER_LANE = MAX_BATCH / 2;
/**
 * A batch running longer than this lets the units waiting behind it open another lane. Batches
 * take milliseconds; one that waits on a row lock may take up to the lock timeout. (20 ms opened
 * lanes under load on 2 busy cores, and cost a fifth of the throughput.)
 */
const LANE_PATIENCE_MS = 100;
/** A batch waiting longer than this for a row lock gives up (its units then run alone). */
const LOCK_TIMEOUT_MS = 1000;
/**
 * See `PostgresStoreOptions.batchGatherMs`. On W3 with 4 worker processes on 2 cores, 2 ms cut
 * transactions per workflow from 0.37-0.42 to 0.29-0.30; throughput rose in two alternating pairs
 * of three, by less than the machine's own swings (docs/design.md).
 */
const DEFAULT_BATCH_GATHER_MS = 2;

function isDatabaseError(error: unknown): boolean {
  return error instanceof pg.DatabaseError || breaksConnection(error);
}

const SUMMARY_COLUMNS =
  'run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time, history_length, memo, search_attributes';

/** bigint columns hold epoch milliseconds and claim tokens: well inside a JS number. */
const typeParsers = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export class PostgresStore implements Store {
  readonly location: string;
  readonly sharedByProcesses = true;
  readonly expiryHintHorizonMs = ANNOUNCED_EXPIRY_HORIZON_MS;
  /** The queue partition the next claim starts at: each claim starts at the next one. */
  private nextPartition = randomInt(QUEUE_PARTITIONS);
  readonly clock: Clock;
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly ready: Promise<void>;
  private readonly listeners = new HintListeners();
  private readonly origin = randomUUID();
  private readonly maxAttempts: number;
  private readonly reconnectTimeoutMs: number;
  /** Ends the LISTEN connection of the moment (close() calls it to stop listening). */
  private endListener?: () => Promise<void>;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly queue: Unit[] = [];
  /** The rows this process wrote last (see `KnownRows`), unless told not to remember them. */
  private readonly known: KnownRows | undefined;
  /** Runs that the batches in flight read first, and how many of them do. */
  private readonly runsReadAhead = new Map<string, number>();
  private activeLanes = 0;
  /** When each running batch started (see `pump`). */
  private readonly batchStarts = new Set<number>();
  /** Armed while units wait behind a running batch: opens another lane if it takes long. */
  private patience?: NodeJS.Timeout;
  private readonly lanes: number;
  private readonly gatherMs: number;
  /** Units in the batch started last: how many a new batch waits for under load (see `pump`). */
  private lastBatchSize = 1;
  /** Armed while a batch waits for more units (see `pump`); the batch starts when it fires. */
  private gathering?: NodeJS.Timeout;
  private listening?: Promise<void>;
  private readonly connection: pg.ClientConfig;
  private readonly channels: HintChannels;
  private readonly listenOn: string[];
  private readonly firstResponders: FirstResponderSeats;

  /** Opens the store at `url` (`postgres://user@host:port/db?schema=keel`); the schema is migrated on first use. */
  static open(url: string, options: PostgresStoreOptions = {}): PostgresStore {
    return new PostgresStore(url, options);
  }

  private constructor(url: string, options: PostgresStoreOptions) {
    const parsed = new URL(url);
    const schema = options.schema ?? parsed.searchParams.get('schema') ?? 'keel';
    parsed.searchParams.delete('schema');
    this.schema = schema;
    this.channels = hintChannels(schema);
    this.listenOn = channelsFor(this.channels, options.hints ?? 'all');
    this.firstResponders = new FirstResponderSeats(schema);
    const redacted = new URL(parsed);
    redacted.password = '';
    this.location = `${redacted.toString()} (schema ${schema})`;
    this.clock = options.clock ?? systemClock;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.reconnectTimeoutMs = options.reconnectTimeoutMs ?? 30_000;
    this.lanes = options.batchLanes ?? 3;
    this.gatherMs = options.batchGatherMs ?? DEFAULT_BATCH_GATHER_MS;
    this.known = options.rememberWrittenRows === false ? undefined : new KnownRows();
    this.connection = {
      connectionString: parsed.toString(),
      options: `-c search_path=${quoteIdent(schema)}`,
      types: typeParsers,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 15_000,
      // Notices a peer that vanished without closing the connection.
      keepAlive: true,
    };
    // Pipeline mode: a transaction's statements are sent without waiting for each other's answers.
    this.pool = new pg.Pool({
      ...this.connection,
      max: options.maxConnections ?? 10,
      pipeline: true,
    });
    // A connection that dies (server restart) must not crash the process. Idle, the pool replaces
    // it; checked out, the error event needs a listener of its own, and the next query on it fails
    // (a transient error: the transaction is retried on another connection).
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    this.ready = this.initialise();
    this.ready.catch(() => undefined);
  }

  private async initialise(): Promise<void> {
    const client = await this.connectWithRetry();
    try {
      await migratePostgres(client, this.schema, this.location);
    } finally {
      client.release();
    }
    this.listening = this.listen();
  }

  /**
   * A transient failure is retried up to `maxAttempts` times; one that lost the connection (the
   * server restarting, say) for as long as `reconnectTimeoutMs` allows, however many attempts.
   */
  private worthRetrying(error: unknown, attempt: number, deadline: number): boolean {
    if (!isTransient(error)) return false;
    return attempt < this.maxAttempts || (breaksConnection(error) && Date.now() < deadline);
  }

  /** A pooled connection; transient failures are retried for `reconnectTimeoutMs` (a restart takes seconds). */
  private async connectWithRetry(): Promise<pg.PoolClient> {
    const deadline = Date.now() + this.reconnectTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.connect();
      } catch (error) {
        if (!isTransient(error) || Date.now() >= deadline) {
          throw new StoreError(`Cannot connect to ${this.location}: ${(error as Error).message}`, {
            cause: error,
          });
        }
        await delay(backoff(attempt));
      }
    }
  }

  /** Keeps a LISTEN connection open (reconnecting with backoff); while it is down, pollers poll. */
  private async listen(): Promise<void> {
    for (let attempt = 1; !this.closed; attempt++) {
      const client = new pg.Client(this.connection);
      // pg's end() resolves on the 'end' event only once: end each client exactly once.
      let ending: Promise<void> | undefined;
      const end = () => (ending ??= client.end().catch(() => undefined));
      let connected = false;
      try {
        const ended = new Promise<void>((resolve) => {
          client.on('error', () => resolve());
          client.on('end', () => resolve());
        });
        await client.connect();
        connected = true;
        // Only a connected client may be ended from outside: pg's end() during connect can hang.
        this.endListener = end;
        if (this.closed) break;
        client.on('notification', (message) => this.onNotification(message.payload));
        await client.query(
          this.listenOn.map((channel) => `LISTEN ${quoteIdent(channel)}`).join('; '),
        );
        attempt = 0;
        this.firstResponders.attach(client);
        // Anything may have happened while we were not listening.
        this.listeners.emit({ type: 'external-change' });
        await ended;
      } catch {
        // reconnect below
      } finally {
        this.firstResponders.detach(client);
        this.endListener = undefined;
        if (connected) await end();
      }
      if (!this.closed) await delay(backoff(attempt));
    }
  }

  private onNotification(payload: string | undefined): void {
    if (!payload) return;
    let message: { origin: string; hints: StoreHint[] };
    try {
      message = JSON.parse(payload) as { origin: string; hints: StoreHint[] };
    } catch {
      return this.listeners.emit({ type: 'external-change' });
    }
    if (message.origin === this.origin) return; // announced locally at commit already
    for (const hint of message.hints) this.listeners.emit(hint);
  }

  transaction<T>(
    work: (tx: StoreTransaction) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError(`${this.location} is closed.`));
    const running = new Promise<T>((resolve, reject) => {
      this.queue.push({ work, options, resolve: resolve as Unit['resolve'], reject });
    });
    // Tracked so that close() lets work that callers were promised finish first.
    const tracked = running.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    this.pump();
    return running;
  }

  /**
   * Group commit on a network database: units queued while a batch runs go together in the next
   * one (one BEGIN, one COMMIT, one NOTIFY, shared reads and writes: see `PostgresBatch`). One lane
   * runs at a time while the queue is short, so that batches grow with the load: each further
   * transaction at once costs the server more than it saves (measured on W3, 4 worker processes on
   * 2 cores: 240-246 workflows/s so, 175 with the queue shared out over three lanes, and 40% less
   * CPU in PostgreSQL). Another lane opens, up to `batchLanes`, for a backlog
   * (`BACKLOG_FOR_ANOTHER_LANE`), or when the running batch takes long (`LANE_PATIENCE_MS`: it
   * waits on a row lock, say), so that one slow transaction does not hold up the process.
   *
   * With no batch running, one starts at once unless the process is under load: the queue is
   * shorter than the last batch. It then waits for as many units as that one held, or
   * `batchGatherMs`, whichever comes first. Without this, the units of a process whose share of
   * the work is small (one of four workers, say) went one or two per transaction, each costing the
   * server a BEGIN, a COMMIT and a statement per table.
   */
  private pump(): void {
    if (this.gathering) {
      if (this.queue.length < this.lastBatchSize) return;
      clearTimeout(this.gathering);
      this.gathering = undefined;
    } else if (
      this.activeLanes === 0 &&
      this.queue.length > 0 &&
      this.queue.length < this.lastBatchSize &&
      this.gatherMs > 0 &&
      !this.closed
    ) {
      this.gathering = setTimeout(() => {
        this.gathering = undefined;
        this.startBatches();
      }, this.gatherMs);
      return;
    }
    this.startBatches();
  }

  /** Starts batches of the queued units on free lanes (see `pump`). */
  private startBatches(): void {
    while (this.activeLanes < this.lanes && this.queue.length > 0) {
      if (
        this.activeLanes > 0 &&
        this.queue.length < BACKLOG_FOR_ANOTHER_LANE &&
        performance.now() - this.oldestBatchStart() < LANE_PATIENCE_MS
      ) {
        this.patience ??= setTimeout(() => {
          this.patience = undefined;
          this.pump();
        }, LANE_PATIENCE_MS).unref();
        return;
      }
      const batch = this.queue.splice(0, MAX_BATCH);
      this.lastBatchSize = batch.length;
      const started = performance.now();
      this.batchStarts.add(started);
      this.activeLanes++;
      void this.runBatch(batch).finally(() => {
        this.batchStarts.delete(started);
        this.activeLanes--;
        this.pump();
      });
    }
  }

  private oldestBatchStart(): number {
    let oldest = Infinity;
    for (const started of this.batchStarts) oldest = Math.min(oldest, started);
    return oldest;
  }

  private async runBatch(batch: Unit[]): Promise<void> {
    try {
      await this.ready;
    } catch (error) {
      for (const unit of batch) unit.reject(error);
      return;
    }
    if (batch.length > 1) {
      try {
        await this.commitBatch(batch);
        return;
      } catch (error) {
        // Rows it took as this process knew them had changed: again, reading them.
        if (isStaleKnownRow(error)) {
          try {
            await this.commitBatch(batch, { readRows: true });
            return;
          } catch {
            // as below
          }
        }
        // A database error aborts the whole batch: each unit then runs alone (and is retried alone).
      }
    }
    for (const unit of batch) {
      const deadline = Date.now() + this.reconnectTimeoutMs;
      // Once rows it knew turned out changed, the unit reads them: it cannot fail so again.
      let readRows = false;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.commitBatch([unit], { readRows });
          break;
        } catch (error) {
          if (isStaleKnownRow(error) && !readRows) {
            readRows = true;
            attempt--; // not a failure: at once, reading them
            continue;
          }
          if (!this.worthRetrying(error, attempt, deadline)) {
            unit.reject(error);
            break;
          }
          await delay(backoff(attempt));
        }
      }
    }
  }

  /**
   * Runs the units in one transaction and settles them after COMMIT. A unit whose work throws (an
   * engine error, not a database one) is rejected alone; a database error throws, and nothing of
   * the batch is committed or settled. Statements are pipelined, only reads are waited for, and the
   * units share what was read ahead for them and one write statement (see `PostgresBatch`).
   */
  private async commitBatch(units: Unit[], options: { readRows?: boolean } = {}): Promise<void> {
    const client = await this.connectWithRetry();
    const pipeline = new StatementPipeline(client);
    // Runs another batch of this process is reading ahead may be written by it any moment: this
    // one reads them too (after that one's commit, as the lock makes it), rather than failing.
    const reading = units.flatMap((unit) =>
      unit.options?.reads ? [unit.options.reads.runId] : [],
    );
    const useKnown = !options.readRows && !reading.some((runId) => this.runsReadAhead.has(runId));
    const batch = new PostgresBatch(pipeline, {
      ...(useKnown && this.known ? { known: this.known } : {}),
      recordWrites: this.known !== undefined,
    });
    for (const runId of reading)
      this.runsReadAhead.set(runId, (this.runsReadAhead.get(runId) ?? 0) + 1);
    let broken: Error | undefined;
    const settled: { unit: Unit; ok: boolean; value: unknown }[] = [];
    const hints: StoreHint[] = [];
    const announced: StoreHint[] = [];
    let undone = false;
    try {
      // A lock wait past lock_timeout fails the batch (and its units run alone) instead of waiting
      // for deadlock detection.
      void pipeline.send(`BEGIN; SET LOCAL lock_timeout = '${LOCK_TIMEOUT_MS}ms'`);
      batch.readAhead(units.flatMap((unit) => (unit.options?.reads ? [unit.options.reads] : [])));
      batch.readRunningAhead(units.flatMap((unit) => unit.options?.readsRunningOf ?? []));
      for (const unit of units) {
        const tx = new PostgresTransaction(
          pipeline,
          batch,
          () => void pipeline.send('SAVEPOINT unit'),
          this.partitionOrder,
          unit.options?.readsRunningOf,
        );
        let value: unknown;
        try {
          value = await unit.work(tx);
        } catch (error) {
          tx.finished = true;
          if (isDatabaseError(error)) throw error;
          if (tx.wroteEarly) {
            void pipeline.send('ROLLBACK TO SAVEPOINT unit');
            undone = true; // what the batch's flushes say it wrote is no longer all true
          }
          settled.push({ unit, ok: false, value: error });
          continue;
        }
        tx.end();
        if (tx.wroteEarly) void pipeline.send('RELEASE SAVEPOINT unit');
        hints.push(...tx.hints);
        announced.push(...tx.announced);
        settled.push({ unit, ok: true, value });
      }
      batch.flush(this.notifications(announced));
      // COMMIT of a transaction that a failed statement aborted answers ROLLBACK, not an error:
      // drain() reports that failure. The lock timeout is for row locks, not for COMMIT: one that
      // NOTIFYs waits for the database-wide lock that orders notifying commits (held through each
      // one's WAL flush), and giving up there would fail a whole batch whenever the disk is slow.
      void pipeline.send('SET LOCAL lock_timeout = 0; COMMIT');
      await pipeline.drain();
    } catch (error) {
      this.known?.forget(runsOf(units, batch.flushes));
      if (breaksConnection(error)) broken = error as Error;
      else await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      client.release(broken);
      for (const runId of reading) {
        const count = this.runsReadAhead.get(runId)! - 1;
        if (count === 0) this.runsReadAhead.delete(runId);
        else this.runsReadAhead.set(runId, count);
      }
    }
    if (undone) this.known?.forget(runsOf(units, batch.flushes));
    else this.known?.learn(batch.flushes);
    for (const { unit, ok, value } of settled) {
      if (ok) unit.resolve(value);
      else unit.reject(value);
    }
    for (const hint of hints) this.listeners.emit(hint);
  }

  /** Every queue partition, from the one the next claim starts at (claims of a process take turns). */
  private readonly partitionOrder = (): number[] => {
    const start = this.nextPartition;
    this.nextPartition = (start + 1) % QUEUE_PARTITIONS;
    return Array.from({ length: QUEUE_PARTITIONS }, (_, i) => (start + i) % QUEUE_PARTITIONS);
  };

  /**
   * The NOTIFYs announcing `hints` to other processes, if any is worth waking them for. Of the
   * expiry hints only the earliest is sent, and only if it is due within a poll interval: every
   * process's expiry scanner looks at the database at least that often anyway (leases, due in
   * seconds, would otherwise wake every process on every claim).
   */
  private notifications(hints: StoreHint[]): Notification[] {
    const horizon = this.clock.now() + ANNOUNCED_EXPIRY_HORIZON_MS;
    let earliest: number | undefined;
    const sent: StoreHint[] = [];
    for (const hint of hints) {
      if (hint.type !== 'expiry') sent.push(hint);
      else if (hint.at < horizon && (earliest === undefined || hint.at < earliest))
        earliest = hint.at;
    }
    if (earliest !== undefined) sent.push({ type: 'expiry', at: earliest });
    return notificationsOf(sent, this.channels, this.origin);
  }

  private async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
    name?: string,
  ): Promise<R[]> {
    if (this.closed) throw new StoreError(`${this.location} is closed.`);
    await this.ready;
    const deadline = Date.now() + this.reconnectTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.pool.query<R>({ text, values, ...(name ? { name } : {}) })).rows;
      } catch (error) {
        if (!this.worthRetrying(error, attempt, deadline)) throw error;
        await delay(backoff(attempt));
      }
    }
  }

  subscribe(listener: (hint: StoreHint) => void): () => void {
    return this.listeners.subscribe(listener);
  }

  firstResponder(taskQueue: string, kind: PolledTaskKind): FirstResponderSeat {
    return this.firstResponders.candidate(taskQueue, kind);
  }

  async getExecution(runId: string): Promise<ExecutionState | undefined> {
    const [row] = await this.query<{ state: string }>(
      'SELECT state FROM executions WHERE run_id = $1',
      [runId],
      'keel_get_execution',
    );
    return row && (JSON.parse(row.state) as ExecutionState);
  }

  async findExecution(workflowId: string, runId?: string): Promise<ExecutionSummary | undefined> {
    const rows =
      runId === undefined
        ? await this.query<ExecutionRow>(
            `SELECT ${SUMMARY_COLUMNS} FROM executions WHERE workflow_id = $1 ORDER BY start_time DESC, run_id DESC LIMIT 1`,
            [workflowId],
            'keel_latest_run',
          )
        : await this.query<ExecutionRow>(
            `SELECT ${SUMMARY_COLUMNS} FROM executions WHERE workflow_id = $1 AND run_id = $2`,
            [workflowId, runId],
            'keel_run_of',
          );
    return rows[0] && summaryFromRow(rows[0]);
  }

  async listExecutions(options: ListExecutionsOptions = {}): Promise<ExecutionSummary[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const placeholder = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (options.workflowId !== undefined)
      where.push(`workflow_id = ${placeholder(options.workflowId)}`);
    if (options.status !== undefined) where.push(`status = ${placeholder(options.status)}`);
    if (options.workflowType !== undefined)
      where.push(`workflow_type = ${placeholder(options.workflowType)}`);
    if (options.before) {
      const { startTime, runId } = options.before;
      where.push(`(start_time, run_id) < (${placeholder(startTime)}, ${placeholder(runId)})`);
    }
    if (options.query) {
      const compiled = compilePostgresFilter(options.query, await this.searchAttributeTypes(), {
        firstParameter: params.length + 1,
      });
      where.push(compiled.sql);
      params.push(...compiled.params);
    }
    const limit = placeholder(options.pageSize ?? 100);
    const rows = await this.query<ExecutionRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY start_time DESC, run_id DESC LIMIT ${limit}`,
      params,
    );
    return rows.map(summaryFromRow);
  }

  async countExecutions(query: string): Promise<number> {
    const { sql, params } = compilePostgresFilter(query, await this.searchAttributeTypes());
    const [row] = await this.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM executions WHERE ${sql}`,
      params,
    );
    return row!.count;
  }

  async readHistory(runId: string, fromEventId = 1): Promise<HistoryEvent[]> {
    const rows = await this.query<EventRow>(
      READ_HISTORY,
      [runId, fromEventId],
      'keel_read_history',
    );
    return rows.map(eventFromRow);
  }

  async getOutcome(runId: string): Promise<RunOutcome | undefined> {
    const [row] = await this.query<OutcomeRow>(
      `SELECT x.status, e.event_id, e.event_time, e.event_type, e.attributes FROM executions x
       LEFT JOIN history_events e ON e.run_id = x.run_id AND e.event_id = x.history_length
       WHERE x.run_id = $1`,
      [runId],
      'keel_outcome',
    );
    return row && outcomeFromRow(row);
  }

  async getTask(key: string): Promise<TaskRecord | undefined> {
    const [row] = await this.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE key = $1`,
      [key],
      'keel_get_task_outside',
    );
    return row && taskFromRow(row);
  }

  async searchAttributeTypes(): Promise<Map<string, SearchAttributeType>> {
    const rows = await this.query<{ name: string; type: SearchAttributeType }>(
      'SELECT name, type FROM search_attribute_types ORDER BY name',
    );
    return new Map(rows.map((r) => [r.name, r.type]));
  }

  async activityTasks(runId: string): Promise<TaskRecord<'activity'>[]> {
    const rows = await this.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE key >= $1 AND key < $2 AND kind = 'activity' ORDER BY seq`,
      runKeyRange(runId),
    );
    return rows.map(taskFromRow) as TaskRecord<'activity'>[];
  }

  async nextExpiry(): Promise<number | undefined> {
    const [row] = await this.query<{ next: number | null }>(
      'SELECT min(expires_at) AS next FROM tasks WHERE expires_at IS NOT NULL',
      [],
      'keel_next_expiry',
    );
    return row?.next ?? undefined;
  }

  async pendingWork(): Promise<PendingWork> {
    const [row] = await this.query<{ active: number; next: number | null }>(
      `SELECT (SELECT count(*)::int FROM tasks WHERE state IN ('ready', 'claimed')) AS active,
              (SELECT min(expires_at) FROM tasks WHERE state = 'waiting' AND expires_at IS NOT NULL) AS next`,
    );
    return { active: row!.active, ...(row!.next !== null ? { nextWaitingExpiry: row!.next } : {}) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ready.catch(() => undefined);
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    clearTimeout(this.patience);
    this.firstResponders.close();
    await this.endListener?.();
    await this.listening;
    await this.pool.end();
  }
}

function backoff(attempt: number): number {
  return Math.min(50 * 2 ** (attempt - 1), 2000) * (0.5 + Math.random() / 2);
}

/** See `runKeyRange` in the SQLite store: a run's task keys are one range of the key index ("C" collation). */
function runKeyRange(runId: string): [string, string] {
  return [`${runId}/`, `${runId}0`];
}

/** Every run that `units` read first or that `flushes` wrote to. */
function runsOf(units: Unit[], flushes: RowsWritten[]): Set<string> {
  const runs = new Set<string>();
  for (const unit of units) if (unit.options?.reads) runs.add(unit.options.reads.runId);
  for (const written of flushes) {
    for (const runId of written.runs.keys()) runs.add(runId);
    for (const key of written.tasks.keys()) runs.add(runOfTaskKey(key));
    for (const runId of written.deletedRuns) runs.add(runId);
  }
  return runs;
}
