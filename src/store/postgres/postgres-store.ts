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
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { StoreError } from '../../common/errors.ts';
import { systemClock, type Clock } from '../../engine/clock.ts';
import type { ExecutionState } from '../../state/execution-state.ts';
import type { HistoryEvent } from '../../state/events.ts';
import type { SearchAttributeType, SearchAttributeValue } from '../../state/search-attributes.ts';
import { TaskState, type TaskChange, type TaskKind, type TaskRecord } from '../../state/tasks.ts';
import { compilePostgresFilter } from '../../visibility/postgres-filter.ts';
import type {
  ExecutionSummary,
  ListExecutionsOptions,
  PendingWork,
  Store,
  StoreHint,
  StoreTransaction,
} from '../store.ts';
import { breaksConnection, isTransient } from './errors.ts';
import {
  eventFromRow,
  summaryFromRow,
  taskFromRow,
  type EventRow,
  type ExecutionRow,
  type TaskRow,
} from '../rows.ts';
import { migratePostgres, quoteIdent } from './migrations.ts';

export interface PostgresStoreOptions {
  /** Schema holding Keel's tables (created if missing). @defaultValue 'keel' (or `?schema=` in the URL) */
  schema?: string;
  /** Connections in this process's pool. Size it to the concurrent store operations a process makes (see docs/scaling-out.md). @defaultValue 10 */
  maxConnections?: number;
  /** How long to wait for a free connection or a new one. @defaultValue 10000 ms */
  connectionTimeoutMs?: number;
  /** Attempts of a transaction that fails transiently, the first included. @defaultValue 8 */
  maxAttempts?: number;
  /** @internal a test's virtual clock */
  clock?: Clock;
}

const CHANNEL = 'keel_hints';

const TASK_COLUMNS =
  'key, kind, run_id, task_queue, state, expires_at, claim_token, claimed_by, data';
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
  readonly clock: Clock;
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly ready: Promise<void>;
  private readonly listeners = new Set<(hint: StoreHint) => void>();
  private readonly origin = randomUUID();
  private readonly maxAttempts: number;
  /** Ends the LISTEN connection of the moment (close() calls it to stop listening). */
  private endListener?: () => Promise<void>;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  private listening?: Promise<void>;
  private readonly connection: pg.ClientConfig;

  /** Opens the store at `url` (`postgres://user@host:port/db?schema=keel`); the schema is migrated on first use. */
  static open(url: string, options: PostgresStoreOptions = {}): PostgresStore {
    return new PostgresStore(url, options);
  }

  private constructor(url: string, options: PostgresStoreOptions) {
    const parsed = new URL(url);
    const schema = options.schema ?? parsed.searchParams.get('schema') ?? 'keel';
    parsed.searchParams.delete('schema');
    this.schema = schema;
    const redacted = new URL(parsed);
    redacted.password = '';
    this.location = `${redacted.toString()} (schema ${schema})`;
    this.clock = options.clock ?? systemClock;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.connection = {
      connectionString: parsed.toString(),
      options: `-c search_path=${quoteIdent(schema)}`,
      types: typeParsers,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    };
    this.pool = new pg.Pool({ ...this.connection, max: options.maxConnections ?? 10 });
    // An idle connection that dies (server restart) must not crash the process: the pool replaces it.
    this.pool.on('error', () => undefined);
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

  private async connectWithRetry(): Promise<pg.PoolClient> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.connect();
      } catch (error) {
        if (!isTransient(error) || attempt >= this.maxAttempts) {
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
        await client.query(`LISTEN ${CHANNEL}`);
        attempt = 0;
        // Anything may have happened while we were not listening.
        this.emit({ type: 'external-change' });
        await ended;
      } catch {
        // reconnect below
      } finally {
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
      return this.emit({ type: 'external-change' });
    }
    if (message.origin === this.origin) return; // announced locally at commit already
    for (const hint of message.hints) this.emit(hint);
  }

  transaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError(`${this.location} is closed.`));
    // Tracked so that close() lets work that callers were promised finish first.
    const running = this.runTransaction(work);
    const tracked = running.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    return running;
  }

  private async runTransaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    await this.ready;
    for (let attempt = 1; ; attempt++) {
      const client = await this.connectWithRetry();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const tx = new PostgresTransaction(client);
        let result: T;
        try {
          result = await work(tx);
        } finally {
          tx.finished = true;
        }
        if (tx.hints.length > 0) {
          const payload = JSON.stringify({ origin: this.origin, hints: tx.hints });
          // NOTIFY payloads are limited to 8000 bytes: a big batch is announced as "anything changed".
          const sent =
            payload.length < 7900
              ? payload
              : JSON.stringify({ origin: this.origin, hints: [{ type: 'external-change' }] });
          await client.query({
            name: 'keel_notify',
            text: 'SELECT pg_notify($1, $2)',
            values: [CHANNEL, sent],
          });
        }
        await client.query('COMMIT');
        for (const hint of tx.hints) this.emit(hint);
        return result;
      } catch (error) {
        if (breaksConnection(error)) broken = error as Error;
        else
          await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        if (!isTransient(error) || attempt >= this.maxAttempts) throw error;
        await delay(backoff(attempt));
      } finally {
        client.release(broken);
      }
    }
  }

  private async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
    name?: string,
  ): Promise<R[]> {
    if (this.closed) throw new StoreError(`${this.location} is closed.`);
    await this.ready;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.pool.query<R>({ text, values, ...(name ? { name } : {}) })).rows;
      } catch (error) {
        if (!isTransient(error) || attempt >= this.maxAttempts) throw error;
        await delay(backoff(attempt));
      }
    }
  }

  subscribe(listener: (hint: StoreHint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(hint: StoreHint): void {
    for (const listener of this.listeners) {
      try {
        listener(hint);
      } catch (error) {
        process.emitWarning(
          `A store hint listener threw: ${(error as Error)?.message ?? String(error)}`,
        );
      }
    }
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
    await this.endListener?.();
    await this.listening;
    await this.pool.end();
  }
}

const READ_HISTORY =
  'SELECT event_id, event_time, event_type, attributes FROM history_events WHERE run_id = $1 AND event_id >= $2 ORDER BY event_id';

class PostgresTransaction implements StoreTransaction {
  readonly hints: StoreHint[] = [];
  finished = false;

  constructor(private readonly client: pg.PoolClient) {}

  private async q<R extends pg.QueryResultRow>(
    name: string,
    text: string,
    values: unknown[],
  ): Promise<R[]> {
    if (this.finished) {
      throw new StoreError(
        'A store transaction was used after it ended (a unit awaited something other than its transaction).',
      );
    }
    return (await this.client.query<R>({ name, text, values })).rows;
  }

  async getExecution(runId: string): Promise<ExecutionState | undefined> {
    const [row] = await this.q<{ state: string }>(
      'keel_lock_execution',
      'SELECT state FROM executions WHERE run_id = $1 FOR UPDATE',
      [runId],
    );
    return row && (JSON.parse(row.state) as ExecutionState);
  }

  async tryGetExecution(runId: string): Promise<ExecutionState | 'locked' | undefined> {
    const [row] = await this.q<{ state: string }>(
      'keel_try_lock_execution',
      'SELECT state FROM executions WHERE run_id = $1 FOR UPDATE SKIP LOCKED',
      [runId],
    );
    if (row) return JSON.parse(row.state) as ExecutionState;
    const [exists] = await this.q(
      'keel_execution_exists',
      'SELECT 1 FROM executions WHERE run_id = $1',
      [runId],
    );
    return exists ? 'locked' : undefined;
  }

  async getRunningRunId(workflowId: string): Promise<string | undefined> {
    const [row] = await this.q<{ run_id: string }>(
      'keel_running_run',
      `SELECT run_id FROM executions WHERE workflow_id = $1 AND status = 'Running'`,
      [workflowId],
    );
    return row?.run_id;
  }

  async getLatestRunId(workflowId: string): Promise<string | undefined> {
    const [row] = await this.q<{ run_id: string }>(
      'keel_latest_run_id',
      'SELECT run_id FROM executions WHERE workflow_id = $1 ORDER BY start_time DESC, run_id DESC LIMIT 1',
      [workflowId],
    );
    return row?.run_id;
  }

  async insertExecution(state: ExecutionState): Promise<void> {
    await this.q(
      'keel_insert_execution',
      `INSERT INTO executions (${SUMMARY_COLUMNS}, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        state.runId,
        state.workflowId,
        state.workflowType,
        state.taskQueue,
        state.status,
        state.startTime,
        state.closeTime ?? null,
        state.nextEventId - 1,
        state.memo ? JSON.stringify(state.memo) : null,
        state.searchAttributes ? JSON.stringify(state.searchAttributes) : null,
        JSON.stringify(state),
      ],
    );
  }

  async updateExecution(state: ExecutionState): Promise<void> {
    await this.q(
      'keel_update_execution',
      'UPDATE executions SET status = $1, close_time = $2, history_length = $3, memo = $4, search_attributes = $5, state = $6 WHERE run_id = $7',
      [
        state.status,
        state.closeTime ?? null,
        state.nextEventId - 1,
        state.memo ? JSON.stringify(state.memo) : null,
        state.searchAttributes ? JSON.stringify(state.searchAttributes) : null,
        JSON.stringify(state),
        state.runId,
      ],
    );
    this.hints.push({ type: 'run-updated', runId: state.runId });
    if (state.status !== 'Running') this.hints.push({ type: 'run-closed', runId: state.runId });
  }

  async appendEvents(runId: string, events: HistoryEvent[]): Promise<void> {
    if (events.length === 0) return;
    // One statement for the whole batch: arrays unnested into rows.
    await this.q(
      'keel_append_events',
      `INSERT INTO history_events (run_id, event_id, event_time, event_type, attributes)
       SELECT $1, * FROM unnest($2::int[], $3::bigint[], $4::text[], $5::text[])`,
      [
        runId,
        events.map((e) => e.eventId),
        events.map((e) => e.eventTime),
        events.map((e) => e.eventType),
        events.map((e) => JSON.stringify(e.attributes)),
      ],
    );
  }

  async readHistory(runId: string, fromEventId: number): Promise<HistoryEvent[]> {
    return (await this.q<EventRow>('keel_read_history_tx', READ_HISTORY, [runId, fromEventId])).map(
      eventFromRow,
    );
  }

  async getTask(key: string): Promise<TaskRecord | undefined> {
    const [row] = await this.q<TaskRow>(
      'keel_lock_task',
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE key = $1 FOR UPDATE`,
      [key],
    );
    return row && taskFromRow(row);
  }

  async applyTaskChanges(changes: TaskChange[]): Promise<void> {
    for (const change of changes) {
      if (change.op === 'delete') {
        await this.q('keel_delete_task', 'DELETE FROM tasks WHERE key = $1', [change.key]);
      } else if (change.op === 'delete-run') {
        await this.q(
          'keel_delete_run_tasks',
          'DELETE FROM tasks WHERE key >= $1 AND key < $2',
          runKeyRange(change.runId),
        );
      } else {
        const { task } = change;
        await this.q(
          'keel_put_task',
          `INSERT INTO tasks (key, kind, run_id, task_queue, state, expires_at, claim_token, claimed_by, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, run_id = excluded.run_id, task_queue = excluded.task_queue,
             state = excluded.state, expires_at = excluded.expires_at, claim_token = excluded.claim_token,
             claimed_by = excluded.claimed_by, data = excluded.data`,
          [
            task.key,
            task.kind,
            task.runId,
            task.taskQueue ?? null,
            task.state,
            task.expiresAt ?? null,
            task.claimToken,
            task.claimedBy ?? null,
            JSON.stringify(task.data),
          ],
        );
        if (task.state === TaskState.Ready && task.taskQueue !== undefined) {
          this.hints.push({ type: 'task-ready', kind: task.kind, taskQueue: task.taskQueue });
        }
        if (task.expiresAt !== undefined) this.hints.push({ type: 'expiry', at: task.expiresAt });
        if (task.kind === 'query' && task.data.answer)
          this.hints.push({ type: 'query-answered', key: task.key });
      }
    }
  }

  /** Oldest first; rows other transactions hold are skipped, not waited for. */
  async readyTasks(kind: TaskKind, taskQueue: string, limit: number): Promise<TaskRecord[]> {
    const rows = await this.q<TaskRow>(
      'keel_ready_tasks',
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE kind = $1 AND task_queue = $2 AND state = 'ready'
       ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED`,
      [kind, taskQueue, limit],
    );
    return rows.map(taskFromRow);
  }

  async expiredTasks(now: number, limit: number): Promise<TaskRecord[]> {
    const rows = await this.q<TaskRow>(
      'keel_expired_tasks',
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, limit],
    );
    return rows.map(taskFromRow);
  }

  async checkSearchAttributeTypes(
    types: Record<string, SearchAttributeType>,
  ): Promise<string | undefined> {
    const names = Object.keys(types);
    if (names.length === 0) return undefined;
    const rows = await this.q<{ name: string; type: string }>(
      'keel_sa_types',
      'SELECT name, type FROM search_attribute_types WHERE name = ANY($1::text[])',
      [names],
    );
    for (const { name, type } of rows) {
      if (type !== types[name]) {
        return `Search attribute '${name}' is of type ${type}, not ${types[name]}: its type was fixed by its first use. Use another name for ${types[name]} values.`;
      }
    }
    return undefined;
  }

  async registerSearchAttributeTypes(
    types: Record<string, SearchAttributeType>,
  ): Promise<string | undefined> {
    const names = Object.keys(types);
    if (names.length === 0) return undefined;
    await this.q(
      'keel_sa_register',
      'INSERT INTO search_attribute_types (name, type) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (name) DO NOTHING',
      [names, names.map((n) => types[n])],
    );
    return this.checkSearchAttributeTypes(types);
  }

  async replaceSearchAttributes(
    runId: string,
    values: Record<string, SearchAttributeValue>,
  ): Promise<void> {
    await this.q('keel_sa_delete', 'DELETE FROM search_attributes WHERE run_id = $1', [runId]);
    const names: string[] = [];
    const texts: (string | null)[] = [];
    const nums: (number | null)[] = [];
    for (const [name, entry] of Object.entries(values)) {
      for (const value of Array.isArray(entry.value) ? entry.value : [entry.value]) {
        names.push(name);
        texts.push(typeof value === 'string' ? value : null);
        nums.push(
          typeof value === 'number' ? value : typeof value === 'boolean' ? (value ? 1 : 0) : null,
        );
      }
    }
    if (names.length === 0) return;
    await this.q(
      'keel_sa_insert',
      `INSERT INTO search_attributes (run_id, name, value_text, value_num)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::float8[])`,
      [runId, names, texts, nums],
    );
  }
}

function backoff(attempt: number): number {
  return Math.min(50 * 2 ** (attempt - 1), 2000) * (0.5 + Math.random() / 2);
}

/** See `runKeyRange` in the SQLite store: a run's task keys are one range of the key index ("C" collation). */
function runKeyRange(runId: string): [string, string] {
  return [`${runId}/`, `${runId}0`];
}
