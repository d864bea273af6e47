/**
 * One unit of work on PostgreSQL, inside a batch (see `PostgresBatch`). Reads go to the database at
 * once (taking row locks), or come from what the batch read ahead; writes are held in
 * `PendingWrites`, and join the batch's when the unit ends. Everything is pipelined: a read waits
 * only for its own answer, and the held writes travel with the next read or with COMMIT.
 */
import type pg from 'pg';
import { StoreError } from '../../common/errors.ts';
import type { ExecutionState } from '../../state/execution-state.ts';
import type { HistoryEvent } from '../../state/events.ts';
import type { SearchAttributeType, SearchAttributeValue } from '../../state/search-attributes.ts';
import { runOfTaskKey, type TaskChange, TaskKind, type TaskRecord } from '../../state/tasks.ts';
import { eventFromRow, taskFromRow, type EventRow, type TaskRow } from '../rows.ts';
import { hintsOfTaskPut, runClosedHint } from '../hints.ts';
import type { ReadyWorkflowTask, StoreHint, StoreTransaction } from '../store.ts';
import type { PostgresBatch } from './batch.ts';
import { PendingWrites } from './pending-writes.ts';
import type { StatementPipeline } from './statement-pipeline.ts';

export const TASK_COLUMNS =
  'key, kind, run_id, task_queue, state, expires_at, claim_token, claimed_by, data';
/** Partitions of every task queue: `queue_partition` (migration 0002) takes this many values. */
export const QUEUE_PARTITIONS = 4;

export const READ_HISTORY =
  'SELECT event_id, event_time, event_type, attributes FROM history_events WHERE run_id = $1 AND event_id >= $2 ORDER BY event_id';

/** Histories up to this many events come with the claim of their run's workflow task. */
export const HISTORY_WITH_CLAIM_MAX = 64;

/**
 * Up to $3 ready tasks of kind $1 on queue $2, held (SKIP LOCKED: pollers pass over each other's
 * rows), partition by partition in the order $4 gives: the outer LIMIT ends the loop as soon as it
 * has enough, so a busy queue's claims mostly touch their own partition's pages. Each row also has
 * its `seq` and its partition's `turn`, which order them.
 */
const READY_TASKS = `SELECT t.*, p.turn FROM unnest($4::smallint[]) WITH ORDINALITY AS p(part, turn)
  CROSS JOIN LATERAL (
    SELECT ${TASK_COLUMNS}, seq FROM tasks
    WHERE kind = $1 AND task_queue = $2 AND queue_partition = p.part AND state = 'ready'
    ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED) t
  LIMIT $3`;

/**
 * `READY_TASKS` (of workflow tasks), each task's run locked (SKIP LOCKED: a claim never waits for a
 * run; `run_locked` tells a run another transaction holds from one that is gone), and the run's
 * history as [id, time, type, attributes] when it has at most $5 events. Each run is found by key (a
 * lateral lookup), so the plan cached for the statement cannot turn into a scan of `executions` as
 * the table grows.
 */
export const READY_WORKFLOW_TASKS = `SELECT c.key, c.kind, c.run_id, c.task_queue, c.state, c.expires_at, c.claim_token, c.claimed_by, c.data,
    h.state AS run_state,
    h.state IS NULL AND EXISTS (SELECT 1 FROM executions x WHERE x.run_id = c.run_id) AS run_locked,
    CASE WHEN h.history_length <= $5 THEN COALESCE(
      (SELECT json_agg(json_build_array(e.event_id, e.event_time, e.event_type, e.attributes) ORDER BY e.event_id)
       FROM history_events e WHERE e.run_id = c.run_id), '[]'::json) END AS history
  FROM (${READY_TASKS}) c
  LEFT JOIN LATERAL (
    SELECT state, history_length FROM executions WHERE run_id = c.run_id FOR UPDATE SKIP LOCKED) h ON true
  ORDER BY c.turn, c.seq`;

export class PostgresTransaction implements StoreTransaction {
  /** Every hint of the unit: emitted in this process after the commit. */
  readonly hints: StoreHint[] = [];
  /** The hints other processes may need (see `PostgresStore.notification`). */
  readonly announced: StoreHint[] = [];
  finished = false;
  /** Set once this unit sent writes before its end: its batch must be able to undo them alone. */
  wroteEarly = false;
  private pending = new PendingWrites();
  /** The last event appended to each run: a closing one goes with the run-closed hint. */
  private lastAppended = new Map<string, HistoryEvent>();

  constructor(
    private readonly pipeline: StatementPipeline,
    private readonly batch: PostgresBatch,
    /** Called before the first early write of the unit (the batch sets a savepoint). */
    private readonly beforeEarlyWrite: () => void,
    /** The queue partitions in the order the next claim reads them. */
    private readonly partitionOrder: () => number[],
    /** The workflow id whose running run the unit said it looks up first (`readsRunningOf`). */
    private readsRunningOf?: string,
  ) {}

  private check(): void {
    if (this.finished) {
      throw new StoreError(
        'A store transaction was used after it ended (a unit awaited something other than its transaction).',
      );
    }
  }

  /** A read: the writes held so far (the batch's, then this unit's) go first, so that it sees them. */
  private async read<R extends pg.QueryResultRow>(
    name: string,
    text: string,
    values: unknown[],
    /** The statement writes too: the unit's savepoint must come first, so that it can be undone. */
    writes = false,
  ): Promise<R[]> {
    this.check();
    this.batch.flush();
    if (!this.pending.empty || writes) {
      if (!this.wroteEarly) this.beforeEarlyWrite();
      this.wroteEarly = true;
      this.batch.absorb(this.pending);
      this.pending = new PendingWrites();
      this.batch.flush();
    }
    return this.pipeline.send<R>({ name, text, values });
  }

  /** The unit succeeded: its held writes join the batch's. */
  end(): void {
    this.check();
    this.finished = true;
    this.batch.absorb(this.pending);
  }

  async getExecution(runId: string): Promise<ExecutionState | undefined> {
    const ahead = this.batch.runAhead(runId);
    if (ahead) return (await ahead).state;
    const [row] = await this.read<{ state: string }>(
      'keel_lock_execution',
      'SELECT state FROM executions WHERE run_id = $1 FOR UPDATE',
      [runId],
    );
    return row && (JSON.parse(row.state) as ExecutionState);
  }

  async tryGetExecution(runId: string): Promise<ExecutionState | 'locked' | undefined> {
    const ahead = this.batch.runAhead(runId); // held by this transaction already
    if (ahead) return (await ahead).state;
    // One round trip: the row if it is free, and whether it exists at all.
    const [row] = await this.read<{ state: string | null; present: boolean }>(
      'keel_try_lock_execution',
      `SELECT (SELECT state FROM executions WHERE run_id = $1 FOR UPDATE SKIP LOCKED) AS state,
              EXISTS (SELECT 1 FROM executions WHERE run_id = $1) AS present`,
      [runId],
    );
    if (row?.state) return JSON.parse(row.state) as ExecutionState;
    return row?.present ? 'locked' : undefined;
  }

  async getExecutionAndTask(
    runId: string,
    taskKey: string,
  ): Promise<{ state: ExecutionState | undefined; task: TaskRecord | undefined }> {
    const ahead = this.batch.runAhead(runId, taskKey);
    if (ahead) return ahead;
    // The materialized CTE is scanned first, so the run is locked before the task (the lock order).
    const [row] = await this.read<Partial<TaskRow> & { run_state: string }>(
      'keel_lock_execution_and_task',
      `WITH run AS MATERIALIZED (SELECT state FROM executions WHERE run_id = $1 FOR UPDATE)
       SELECT run.state AS run_state, t.*
       FROM run LEFT JOIN LATERAL (SELECT ${TASK_COLUMNS} FROM tasks WHERE key = $2 FOR UPDATE) t ON true`,
      [runId, taskKey],
    );
    if (!row) return { state: undefined, task: undefined };
    const state = JSON.parse(row.run_state) as ExecutionState;
    return { state, task: row.key == null ? undefined : taskFromRow(row as TaskRow) };
  }

  async getRunningRunId(workflowId: string): Promise<string | undefined> {
    // The batch's look-up answers the unit that asked for it, once: its start's first question.
    // Anything else (a later question of the start, another unit's signal to that workflow) reads
    // the database, which may have moved on since BEGIN.
    if (workflowId === this.readsRunningOf) {
      this.readsRunningOf = undefined;
      const ahead = this.batch.runningRunAhead(workflowId);
      if (ahead) return ahead;
    }
    const [row] = await this.read<{ run_id: string }>(
      'keel_running_run',
      `SELECT run_id FROM executions WHERE workflow_id = $1 AND status = 'Running'`,
      [workflowId],
    );
    return row?.run_id;
  }

  async getLatestRunId(workflowId: string): Promise<string | undefined> {
    const [row] = await this.read<{ run_id: string }>(
      'keel_latest_run_id',
      'SELECT run_id FROM executions WHERE workflow_id = $1 ORDER BY start_time DESC, run_id DESC LIMIT 1',
      [workflowId],
    );
    return row?.run_id;
  }

  async insertExecution(state: ExecutionState): Promise<void> {
    this.check();
    this.batch.writing([state.runId]);
    this.batch.writingWorkflow(state.workflowId);
    this.pending.insertExecution(state);
  }

  async updateExecution(state: ExecutionState): Promise<void> {
    this.check();
    this.batch.writing([state.runId]);
    this.batch.writingWorkflow(state.workflowId);
    this.pending.updateExecution(state);
    const updated: StoreHint = { type: 'run-updated', runId: state.runId };
    this.hints.push(updated);
    // Only a client waiting for an update listens for run-updated: most changes concern nobody else.
    if (state.updates && Object.keys(state.updates).length > 0) this.announced.push(updated);
    if (state.status !== 'Running') {
      const closed = runClosedHint(state, this.lastAppended.get(state.runId));
      this.hints.push(closed);
      this.announced.push(closed);
    }
  }

  async appendEvents(runId: string, events: HistoryEvent[]): Promise<void> {
    this.check();
    this.batch.writing([runId]);
    this.pending.appendEvents(runId, events);
    const last = events.at(-1);
    if (last) this.lastAppended.set(runId, last);
  }

  async readHistory(runId: string, fromEventId: number): Promise<HistoryEvent[]> {
    return (
      await this.read<EventRow>('keel_read_history_tx', READ_HISTORY, [runId, fromEventId])
    ).map(eventFromRow);
  }

  async getTask(key: string): Promise<TaskRecord | undefined> {
    const ahead = this.batch.taskAhead(runOfTaskKey(key), key);
    if (ahead) return (await ahead).task;
    const [row] = await this.read<TaskRow>(
      'keel_lock_task',
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE key = $1 FOR UPDATE`,
      [key],
    );
    return row && taskFromRow(row);
  }

  async applyTaskChanges(changes: TaskChange[]): Promise<void> {
    this.check();
    this.batch.writing(
      changes.map((c) =>
        c.op === 'put' ? c.task.runId : c.op === 'delete' ? runOfTaskKey(c.key) : c.runId,
      ),
    );
    this.pending.applyTaskChanges(changes);
    for (const change of changes) {
      if (change.op !== 'put') continue;
      const hints = hintsOfTaskPut(change.task);
      this.hints.push(...hints);
      this.announced.push(...hints);
    }
  }

  /** A run's tasks oldest first, partition by partition; rows other transactions hold are skipped, not waited for. */
  async readyTasks(kind: TaskKind, taskQueue: string, limit: number): Promise<TaskRecord[]> {
    const rows = await this.read<TaskRow>('keel_ready_tasks', READY_TASKS, [
      kind,
      taskQueue,
      limit,
      this.partitionOrder(),
    ]);
    return rows.map(taskFromRow);
  }

  /**
   * One statement: the claim of `readyTasks`, each task's run locked as `tryGetExecution` locks it,
   * and the history of a run it holds, if short (`HISTORY_WITH_CLAIM_MAX` events at most: the first
   * task of a new run has two). A longer one is left for the caller to read from where it needs it
   * (a worker that has the run cached needs only its last events).
   */
  async readyWorkflowTasks(
    taskQueue: string,
    limit: number,
    historyFrom: (runId: string) => number,
  ): Promise<ReadyWorkflowTask[]> {
    const rows = await this.read<
      TaskRow & {
        run_state: string | null;
        run_locked: boolean;
        history: [number, number, string, string][] | null;
      }
    >('keel_ready_workflow_tasks', READY_WORKFLOW_TASKS, [
      TaskKind.Workflow,
      taskQueue,
      limit,
      this.partitionOrder(),
      HISTORY_WITH_CLAIM_MAX,
    ]);
    return rows.map((row) => {
      const task = taskFromRow(row) as TaskRecord<'workflow'>;
      if (row.run_state === null) return { task, run: row.run_locked ? 'locked' : undefined };
      const run = JSON.parse(row.run_state) as ExecutionState;
      // The lock took the run's latest version, but the history is as of the statement's start: a
      // step another process committed in between is in the one and not the other. Then the
      // caller reads the history itself, now that the run is held.
      if (!row.history || row.history.length !== run.nextEventId - 1) return { task, run };
      const from = historyFrom(task.runId);
      const history: HistoryEvent[] = [];
      for (const [event_id, event_time, event_type, attributes] of row.history)
        if (event_id >= from)
          history.push(eventFromRow({ event_id, event_time, event_type, attributes }));
      return { task, run, history };
    });
  }

  async expiredTasks(now: number, limit: number): Promise<TaskRecord[]> {
    const rows = await this.read<TaskRow>(
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
    const rows = await this.read<{ name: string; type: string }>(
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
    // Insert what is new, then check: both in one round trip, under the same snapshot rules.
    await this.read(
      'keel_sa_register',
      'INSERT INTO search_attribute_types (name, type) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (name) DO NOTHING',
      [names, names.map((n) => types[n])],
      true,
    );
    return this.checkSearchAttributeTypes(types);
  }

  async replaceSearchAttributes(
    runId: string,
    values: Record<string, SearchAttributeValue>,
  ): Promise<void> {
    this.check();
    this.batch.writing([runId]);
    this.pending.replaceSearchAttributes(runId, values);
  }
}
