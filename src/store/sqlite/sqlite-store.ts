/**
 * The embedded store: one SQLite file in WAL mode, opened by one process (others may open it too;
 * SQLite serialises their writes).
 *
 * Group commit: `transaction()` calls made while a batch is being written queue up, and the next
 * batch runs all of them in one physical transaction, each in its own savepoint (a failing unit rolls
 * back alone). One fsync then covers many workflow steps: the throughput lever under load. Results
 * are handed back only after COMMIT returns, so nothing is acknowledged before it is durable.
 *
 * Reads outside transactions go through a second connection, so they never see a batch that is
 * still open.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../../common/errors.ts';
import type { ExecutionState } from '../../state/execution-state.ts';
import type { SearchAttributeType, SearchAttributeValue } from '../../state/search-attributes.ts';
import type { HistoryEvent } from '../../state/events.ts';
import { jsonOfAttributes } from '../../state/event-json.ts';
import { TaskKind, type TaskChange, type TaskRecord } from '../../state/tasks.ts';
import { systemClock, type Clock } from '../../engine/clock.ts';
import type {
  ExecutionSummary,
  ListExecutionsOptions,
  PendingWork,
  ReadyWorkflowTask,
  RunOutcome,
  Store,
  StoreHint,
  StoreTransaction,
} from '../store.ts';
import { HintListeners, hintsOfTaskPut, runClosedHint } from '../hints.ts';
import { migrate } from './migrations.ts';
import { compileSqliteFilter } from '../../visibility/sqlite-filter.ts';
import {
  eventFromRow,
  executionParams,
  outcomeFromRow,
  summaryFromRow,
  taskFromRow,
  taskParams,
  type EventRow,
  type ExecutionRow,
  type OutcomeRow,
  type TaskRow,
} from '../rows.ts';

export interface SqliteStoreOptions {
  /**
   * `'full'` (default): every commit is fsynced; a committed transaction survives a process crash and
   * a power loss. `'normal'`: in WAL mode SQLite syncs only at checkpoints; commits survive a process
   * crash but the last ones may be lost on power loss. Several times faster on slow disks.
   */
  synchronous?: 'full' | 'normal';
  /** How long a write waits for another process's write lock before failing. @defaultValue 5000 ms */
  busyTimeoutMs?: number;
  /** How often to look for commits by other processes (they cannot send hints). @defaultValue 50 ms */
  externalChangePollMs?: number;
  /** @internal the time-skipping test environment's virtual clock */
  clock?: Clock;
}

interface Unit {
  work: (tx: StoreTransaction) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Units per physical transaction: bounds how long one batch holds the write lock. */
const MAX_BATCH = 256;

const SQLITE_MAGIC = 'SQLite format 3\0';

export class SqliteStore implements Store {
  readonly location: string;
  readonly sharedByProcesses = false;
  readonly clock: Clock;
  private readonly writer: Database.Database;
  private readonly reader: Database.Database;
  private readonly listeners = new HintListeners();
  private readonly queue: Unit[] = [];
  private draining = false;
  private closed = false;
  private readonly watcher: NodeJS.Timeout;
  private dataVersion: number;
  private readonly s: ReturnType<typeof prepareStatements>;

  /** Opens (creating and migrating if needed) the Keel database at `path`. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    return new SqliteStore(path, options);
  }

  private constructor(path: string, options: SqliteStoreOptions) {
    const file = path === ':memory:' ? path : resolve(path);
    this.location = `sqlite:${file}`;
    this.clock = options.clock ?? systemClock;
    if (file === ':memory:')
      throw new StoreError(
        'An in-memory SQLite store cannot be shared by two connections; use a file path.',
      );
    assertSqliteFile(file);
    let writer: Database.Database | undefined;
    try {
      writer = new Database(file, { timeout: options.busyTimeoutMs ?? 5000 });
      // Check (and create or upgrade) the schema first: a file that is refused is left as it was.
      migrate(writer, file);
      writer.pragma('journal_mode = WAL');
      writer.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      this.reader = new Database(file, { readonly: true, timeout: options.busyTimeoutMs ?? 5000 });
      this.writer = writer;
    } catch (error) {
      writer?.close();
      if (error instanceof StoreError) throw error;
      throw new StoreError(`Cannot open ${file} as a Keel database: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.s = prepareStatements(this.writer, this.reader);
    this.dataVersion = this.s.dataVersion.get() as number;
    this.watcher = setInterval(
      () => this.checkExternalChange(),
      options.externalChangePollMs ?? 50,
    );
    this.watcher.unref();
  }

  transaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError(`${this.location} is closed.`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.queue.length === 1 && !this.draining) setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          await this.runBatch(batch);
        } catch (error) {
          // A failure of the transaction machinery itself (a savepoint that cannot be released):
          // fail this batch, roll back, and keep serving the next ones.
          if (this.writer.inTransaction) this.s.rollback.run();
          for (const unit of batch) unit.reject(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async runBatch(batch: Unit[]): Promise<void> {
    const outcomes: { ok: boolean; value: unknown }[] = [];
    const hints: StoreHint[] = [];
    try {
      this.s.begin.run();
    } catch (error) {
      for (const unit of batch) unit.reject(error);
      return;
    }
    // Commits by other processes since the last look would be hidden by our own commit below.
    this.checkExternalChange(true);
    for (const unit of batch) {
      this.s.savepoint.run();
      const tx = new SqliteTransaction(this.s);
      try {
        const value = await unit.work(tx);
        this.s.release.run();
        hints.push(...tx.hints);
        outcomes.push({ ok: true, value });
      } catch (error) {
        this.s.rollbackTo.run();
        this.s.release.run();
        outcomes.push({ ok: false, value: error });
      } finally {
        tx.finished = true;
      }
    }
    try {
      this.s.commit.run();
    } catch (error) {
      if (this.writer.inTransaction) this.s.rollback.run();
      for (const unit of batch) unit.reject(error);
      return;
    }
    this.dataVersion = this.s.dataVersion.get() as number;
    batch.forEach((unit, i) =>
      outcomes[i]!.ok ? unit.resolve(outcomes[i]!.value) : unit.reject(outcomes[i]!.value),
    );
    for (const hint of hints) this.listeners.emit(hint);
  }

  /** Commits by other processes bump `data_version` of this connection; they are announced as one hint. */
  private checkExternalChange(inBatch = false): void {
    if ((this.draining && !inBatch) || this.closed) return;
    const version = this.s.dataVersion.get() as number;
    if (version !== this.dataVersion) {
      this.dataVersion = version;
      this.listeners.emit({ type: 'external-change' });
    }
  }

  subscribe(listener: (hint: StoreHint) => void): () => void {
    return this.listeners.subscribe(listener);
  }

  async getExecution(runId: string): Promise<ExecutionState | undefined> {
    const json = this.s.readExecutionState.get(runId) as string | undefined;
    return json === undefined ? undefined : (JSON.parse(json) as ExecutionState);
  }

  async findExecution(workflowId: string, runId?: string): Promise<ExecutionSummary | undefined> {
    const row = (
      runId === undefined ? this.s.latestRun.get(workflowId) : this.s.runOf.get(workflowId, runId)
    ) as ExecutionRow | undefined;
    return row && summaryFromRow(row);
  }

  async listExecutions(options: ListExecutionsOptions = {}): Promise<ExecutionSummary[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const filter = (clause: string, ...values: unknown[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (options.query) {
      const compiled = compileSqliteFilter(options.query, await this.searchAttributeTypes());
      filter(compiled.sql, ...compiled.params);
    }
    if (options.workflowId !== undefined) filter('workflow_id = ?', options.workflowId);
    if (options.status !== undefined) filter('status = ?', options.status);
    if (options.workflowType !== undefined) filter('workflow_type = ?', options.workflowType);
    if (options.before) {
      const { startTime, runId } = options.before;
      filter('(start_time < ? OR (start_time = ? AND run_id < ?))', startTime, startTime, runId);
    }
    const sql = `SELECT ${SUMMARY_COLUMNS} FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY start_time DESC, run_id DESC LIMIT ?`;
    params.push(options.pageSize ?? 100);
    return (this.reader.prepare(sql).all(...params) as ExecutionRow[]).map(summaryFromRow);
  }

  async countExecutions(query: string): Promise<number> {
    const { sql, params } = compileSqliteFilter(query, await this.searchAttributeTypes());
    return this.reader
      .prepare(`SELECT COUNT(*) FROM executions WHERE ${sql}`)
      .pluck()
      .get(...params) as number;
  }

  async readHistory(runId: string, fromEventId = 1): Promise<HistoryEvent[]> {
    return (this.s.readHistoryOutside.all(runId, fromEventId) as EventRow[]).map(eventFromRow);
  }

  async getOutcome(runId: string): Promise<RunOutcome | undefined> {
    const row = this.s.outcome.get(runId) as OutcomeRow | undefined;
    return row && outcomeFromRow(row);
  }

  async getTask(key: string): Promise<TaskRecord | undefined> {
    const row = this.s.getTaskOutside.get(key) as TaskRow | undefined;
    return row && taskFromRow(row);
  }

  async searchAttributeTypes(): Promise<Map<string, SearchAttributeType>> {
    const rows = this.s.searchAttributeTypes.all() as { name: string; type: SearchAttributeType }[];
    return new Map(rows.map((r) => [r.name, r.type]));
  }

  async activityTasks(runId: string): Promise<TaskRecord<'activity'>[]> {
    return (this.s.activityTasksOfRun.all(...runKeyRange(runId)) as TaskRow[]).map(
      taskFromRow,
    ) as TaskRecord<'activity'>[];
  }

  async nextExpiry(): Promise<number | undefined> {
    return (this.s.nextExpiry.get() as number | null) ?? undefined;
  }

  async pendingWork(): Promise<PendingWork> {
    const row = this.s.pendingWork.get() as { active: number; next: number | null };
    return { active: row.active, ...(row.next !== null ? { nextWaitingExpiry: row.next } : {}) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let queued units finish: closing must not lose work that callers were promised.
    while (this.draining || this.queue.length > 0) await new Promise((r) => setImmediate(r));
    this.closed = true;
    clearInterval(this.watcher);
    this.reader.close();
    this.writer.close();
  }
}

class SqliteTransaction implements StoreTransaction {
  readonly hints: StoreHint[] = [];
  finished = false;
  /** The last event appended to each run: a closing one goes with the run-closed hint. */
  private lastAppended = new Map<string, HistoryEvent>();

  constructor(private readonly s: ReturnType<typeof prepareStatements>) {}

  private check(): void {
    if (this.finished)
      throw new StoreError(
        'A store transaction was used after it ended (a unit awaited something other than its transaction).',
      );
  }

  async getExecution(runId: string): Promise<ExecutionState | undefined> {
    this.check();
    const json = this.s.executionState.get(runId) as string | undefined;
    return json === undefined ? undefined : (JSON.parse(json) as ExecutionState);
  }

  async getExecutionAndTask(
    runId: string,
    taskKey: string,
  ): Promise<{ state: ExecutionState | undefined; task: TaskRecord | undefined }> {
    const state = await this.getExecution(runId);
    return { state, task: state ? await this.getTask(taskKey) : undefined };
  }

  /** One writer at a time: a run is never locked by another transaction here. */
  tryGetExecution(runId: string): Promise<ExecutionState | undefined> {
    return this.getExecution(runId);
  }

  async getRunningRunId(workflowId: string): Promise<string | undefined> {
    this.check();
    return this.s.runningRunId.get(workflowId) as string | undefined;
  }

  async getLatestRunId(workflowId: string): Promise<string | undefined> {
    this.check();
    return this.s.latestRunId.get(workflowId) as string | undefined;
  }

  async checkSearchAttributeTypes(
    types: Record<string, SearchAttributeType>,
  ): Promise<string | undefined> {
    this.check();
    for (const [name, type] of Object.entries(types)) {
      const known = this.s.searchAttributeType.get(name) as string | undefined;
      if (known !== undefined && known !== type) {
        return `Search attribute '${name}' is of type ${known}, not ${type}: its type was fixed by its first use. Use another name for ${type} values.`;
      }
    }
    return undefined;
  }

  async registerSearchAttributeTypes(
    types: Record<string, SearchAttributeType>,
  ): Promise<string | undefined> {
    const conflict = await this.checkSearchAttributeTypes(types);
    if (conflict) return conflict;
    for (const [name, type] of Object.entries(types))
      this.s.insertSearchAttributeType.run(name, type);
    return undefined;
  }

  async replaceSearchAttributes(
    runId: string,
    values: Record<string, SearchAttributeValue>,
  ): Promise<void> {
    this.check();
    this.s.deleteSearchAttributes.run(runId);
    for (const [name, entry] of Object.entries(values)) {
      const stored = Array.isArray(entry.value) ? entry.value : [entry.value];
      for (const value of stored)
        this.s.insertSearchAttribute.run(
          runId,
          name,
          typeof value === 'boolean' ? (value ? 1 : 0) : value,
        );
    }
  }

  async insertExecution(state: ExecutionState): Promise<void> {
    this.check();
    this.s.insertExecution.run(...executionParams(state));
  }

  async updateExecution(state: ExecutionState): Promise<void> {
    this.check();
    this.s.updateExecution.run(
      state.status,
      state.closeTime ?? null,
      state.nextEventId - 1,
      state.memo ? JSON.stringify(state.memo) : null,
      state.searchAttributes ? JSON.stringify(state.searchAttributes) : null,
      JSON.stringify(state),
      state.runId,
    );
    this.hints.push({ type: 'run-updated', runId: state.runId });
    if (state.status !== 'Running')
      this.hints.push(runClosedHint(state, this.lastAppended.get(state.runId)));
  }

  async appendEvents(runId: string, events: HistoryEvent[]): Promise<void> {
    this.check();
    for (const e of events)
      this.s.insertEvent.run(
        runId,
        e.eventId,
        e.eventTime,
        e.eventType,
        jsonOfAttributes(e.attributes),
      );
    const last = events.at(-1);
    if (last) this.lastAppended.set(runId, last);
  }

  async readHistory(runId: string, fromEventId: number): Promise<HistoryEvent[]> {
    this.check();
    return (this.s.readHistory.all(runId, fromEventId) as EventRow[]).map(eventFromRow);
  }

  async getTask(key: string): Promise<TaskRecord | undefined> {
    this.check();
    const row = this.s.getTask.get(key) as TaskRow | undefined;
    return row && taskFromRow(row);
  }

  async applyTaskChanges(changes: TaskChange[]): Promise<void> {
    this.check();
    for (const change of changes) {
      if (change.op === 'delete') {
        this.s.deleteTask.run(change.key);
      } else if (change.op === 'delete-run') {
        this.s.deleteRunTasks.run(...runKeyRange(change.runId));
      } else {
        const { task } = change;
        this.s.putTask.run(...taskParams(task));
        this.hints.push(...hintsOfTaskPut(task));
      }
    }
  }

  async readyTasks(kind: TaskKind, taskQueue: string, limit: number): Promise<TaskRecord[]> {
    this.check();
    return (this.s.readyTasks.all(kind, taskQueue, limit) as TaskRow[]).map(taskFromRow);
  }

  async readyWorkflowTasks(taskQueue: string, limit: number): Promise<ReadyWorkflowTask[]> {
    // Reads here cost no round trip: the caller reads each history itself.
    const tasks = (await this.readyTasks(
      TaskKind.Workflow,
      taskQueue,
      limit,
    )) as TaskRecord<'workflow'>[];
    const ready: ReadyWorkflowTask[] = [];
    for (const task of tasks) ready.push({ task, run: await this.tryGetExecution(task.runId) });
    return ready;
  }

  async expiredTasks(now: number, limit: number): Promise<TaskRecord[]> {
    this.check();
    return (this.s.expiredTasks.all(now, limit) as TaskRow[]).map(taskFromRow);
  }
}

const SUMMARY_COLUMNS =
  'run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time, history_length, memo, search_attributes';

/**
 * Task keys start with `<runId>/` (see `taskKey`), so a run's tasks are one range of the key index:
 * no separate run_id index to maintain on every insert and delete.
 */
function runKeyRange(runId: string): [string, string] {
  return [`${runId}/`, `${runId}0`]; // '0' is the character after '/'
}

function prepareStatements(w: Database.Database, r: Database.Database) {
  const taskColumns =
    'key, kind, run_id, task_queue, state, expires_at, claim_token, claimed_by, data';
  const summaryColumns = SUMMARY_COLUMNS;
  return {
    begin: w.prepare('BEGIN IMMEDIATE'),
    commit: w.prepare('COMMIT'),
    rollback: w.prepare('ROLLBACK'),
    savepoint: w.prepare('SAVEPOINT unit'),
    release: w.prepare('RELEASE unit'),
    rollbackTo: w.prepare('ROLLBACK TO unit'),
    dataVersion: w.prepare('PRAGMA data_version').pluck(),
    executionState: w.prepare('SELECT state FROM executions WHERE run_id = ?').pluck(),
    runningRunId: w
      .prepare(`SELECT run_id FROM executions WHERE workflow_id = ? AND status = 'Running'`)
      .pluck(),
    insertExecution: w.prepare(
      `INSERT INTO executions (${summaryColumns}, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    latestRunId: w
      .prepare(
        'SELECT run_id FROM executions WHERE workflow_id = ? ORDER BY start_time DESC, run_id DESC LIMIT 1',
      )
      .pluck(),
    searchAttributeType: w
      .prepare('SELECT type FROM search_attribute_types WHERE name = ?')
      .pluck(),
    insertSearchAttributeType: w.prepare(
      'INSERT OR IGNORE INTO search_attribute_types (name, type) VALUES (?, ?)',
    ),
    deleteSearchAttributes: w.prepare('DELETE FROM search_attributes WHERE run_id = ?'),
    insertSearchAttribute: w.prepare(
      'INSERT OR IGNORE INTO search_attributes (run_id, name, value) VALUES (?, ?, ?)',
    ),
    getTaskOutside: r.prepare(`SELECT ${taskColumns} FROM tasks WHERE key = ?`),
    searchAttributeTypes: r.prepare('SELECT name, type FROM search_attribute_types ORDER BY name'),
    updateExecution: w.prepare(
      // Identity columns never change: leaving them out spares their indexes.
      'UPDATE executions SET status = ?, close_time = ?, history_length = ?, memo = ?, search_attributes = ?, state = ? WHERE run_id = ?',
    ),
    insertEvent: w.prepare(
      'INSERT INTO history_events (run_id, event_id, event_time, event_type, attributes) VALUES (?, ?, ?, ?, ?)',
    ),
    readHistory: w.prepare(
      'SELECT event_id, event_time, event_type, attributes FROM history_events WHERE run_id = ? AND event_id >= ? ORDER BY event_id',
    ),
    getTask: w.prepare(`SELECT ${taskColumns} FROM tasks WHERE key = ?`),
    putTask: w.prepare(
      `INSERT INTO tasks (${taskColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, run_id = excluded.run_id, task_queue = excluded.task_queue,
         state = excluded.state, expires_at = excluded.expires_at, claim_token = excluded.claim_token,
         claimed_by = excluded.claimed_by, data = excluded.data`,
    ),
    deleteTask: w.prepare('DELETE FROM tasks WHERE key = ?'),
    deleteRunTasks: w.prepare('DELETE FROM tasks WHERE key >= ? AND key < ?'),
    readyTasks: w.prepare(
      `SELECT ${taskColumns} FROM tasks WHERE kind = ? AND task_queue = ? AND state = 'ready' ORDER BY seq LIMIT ?`,
    ),
    expiredTasks: w.prepare(
      `SELECT ${taskColumns} FROM tasks WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
    ),
    readExecutionState: r.prepare('SELECT state FROM executions WHERE run_id = ?').pluck(),
    latestRun: r.prepare(
      `SELECT ${summaryColumns} FROM executions WHERE workflow_id = ? ORDER BY start_time DESC, rowid DESC LIMIT 1`,
    ),
    runOf: r.prepare(
      `SELECT ${summaryColumns} FROM executions WHERE workflow_id = ? AND run_id = ?`,
    ),
    outcome: r.prepare(
      `SELECT x.status, e.event_id, e.event_time, e.event_type, e.attributes FROM executions x
       LEFT JOIN history_events e ON e.run_id = x.run_id AND e.event_id = x.history_length
       WHERE x.run_id = ?`,
    ),
    readHistoryOutside: r.prepare(
      'SELECT event_id, event_time, event_type, attributes FROM history_events WHERE run_id = ? AND event_id >= ? ORDER BY event_id',
    ),
    activityTasksOfRun: r.prepare(
      `SELECT ${taskColumns} FROM tasks WHERE key >= ? AND key < ? AND kind = 'activity' ORDER BY seq`,
    ),
    nextExpiry: r.prepare('SELECT MIN(expires_at) FROM tasks WHERE expires_at IS NOT NULL').pluck(),
    pendingWork: r.prepare(
      `SELECT (SELECT COUNT(*) FROM tasks WHERE state IN ('ready', 'claimed')) AS active,
              (SELECT MIN(expires_at) FROM tasks WHERE state = 'waiting' AND expires_at IS NOT NULL) AS next`,
    ),
  };
}

/** Refuses, with the file's name, a file that exists but is not a SQLite database. */
function assertSqliteFile(file: string): void {
  if (!existsSync(file)) return;
  const stat = statSync(file);
  if (stat.isDirectory()) throw new StoreError(`${file} is a directory, not a Keel database file.`);
  if (stat.size === 0) return;
  const header = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1') !== SQLITE_MAGIC) {
    throw new StoreError(
      `${file} is not a Keel database: it is not a SQLite file. Point Keel at a new file or an existing Keel database.`,
    );
  }
}
