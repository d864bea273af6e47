/**
 * What the units of one PostgreSQL batch (one physical transaction) share, so that a batch of N
 * units costs a few statements rather than two per unit:
 *
 * - **Reads ahead.** Units that say which run and task they read first (`TransactionOptions.reads`:
 *   completions of workflow and activity tasks, most of the load) have those rows read and locked
 *   for the whole batch in one round trip, sent with BEGIN: runs first, then tasks, each in key
 *   order, so that batches lock in the same order. A unit gets its rows from there unless an
 *   earlier unit of the batch wrote to that run (then it reads the database, which has those
 *   writes).
 * - **Running runs looked up ahead.** Starts say which workflow id they look up first
 *   (`TransactionOptions.readsRunningOf`): the running runs of a batch's ids are read in one
 *   statement, and the start that asked takes its answer from there (see
 *   `PostgresTransaction.getRunningRunId`) unless an earlier unit of the batch wrote a run of that
 *   workflow. Starts then read nothing themselves, and their writes go as one statement.
 * - **Rows known.** Rows this process wrote last need no read at all (see `KnownRows`).
 * - **Writes held back.** A finished unit's writes join the batch's, sent as one statement before
 *   the next read that could depend on them, or with COMMIT.
 */
import type { ExecutionState } from '../../state/execution-state.ts';
import type { TaskRecord } from '../../state/tasks.ts';
import { taskFromRow, type TaskRow } from '../rows.ts';
import type { Notification } from './notifications.ts';
import type { KnownRows } from './known-rows.ts';
import { jsonRow, PendingWrites, taskJsonRow, type RowsWritten } from './pending-writes.ts';
import { TASK_COLUMNS } from './postgres-transaction.ts';
import type { StatementPipeline } from './statement-pipeline.ts';

export class PostgresBatch {
  /** Writes of the batch's finished units, not sent yet. */
  private pending = new PendingWrites();
  /** Runs the batch wrote to (sent or not): rows read ahead for them no longer say what is there. */
  private readonly written = new Set<string>();
  private readonly runsAhead = new Map<string, string | undefined>();
  private readonly tasksAhead = new Map<string, TaskRow | undefined>();
  /** Settles when the rows read ahead have arrived. */
  private ahead: Promise<void> = Promise.resolve();
  /** Workflow ids whose running run was looked up ahead, and the run ids found running. */
  private readonly runningLookedUp = new Set<string>();
  private readonly runningAhead = new Map<string, string>();
  /** Settles when the running runs looked up ahead have arrived. */
  private runningRead: Promise<void> = Promise.resolve();
  /** Workflows the batch wrote a run of (sent or not): which of their runs is running may have changed. */
  private readonly writtenWorkflows = new Set<string>();

  private readonly known: KnownRows | undefined;
  private readonly recordWrites: boolean;
  /** What each flush wrote, in order: the process learns it once the batch commits. */
  readonly flushes: RowsWritten[] = [];

  constructor(
    private readonly pipeline: StatementPipeline,
    options: {
      /** Rows this process wrote last, which the batch may take instead of reading them. */
      known?: KnownRows;
      /** Keep what each flush wrote (`flushes`), for the process to learn after COMMIT. */
      recordWrites?: boolean;
    } = {},
  ) {
    this.known = options.known;
    this.recordWrites = options.recordWrites ?? false;
  }

  /**
   * Reads and locks the runs and tasks that the batch's units will read first (sent, not awaited),
   * or takes them as this process wrote them last if it knows them all (`takeKnown`). A unit alone
   * otherwise reads its own, in one statement rather than two.
   */
  readAhead(reads: { runId: string; taskKey: string }[]): void {
    if (this.takeKnown(reads)) return;
    if (reads.length < 2) return;
    const runIds = [...new Set(reads.map((r) => r.runId))].sort();
    const keys = [...new Set(reads.map((r) => r.taskKey))].sort();
    for (const runId of runIds) this.runsAhead.set(runId, undefined);
    for (const key of keys) this.tasksAhead.set(key, undefined);
    // Unnamed statements: planned for the arrays at hand, never a cached plan that scans.
    const runs = this.pipeline.send<{ run_id: string; state: string }>({
      text: 'SELECT run_id, state FROM executions WHERE run_id = ANY($1::text[]) ORDER BY run_id FOR UPDATE',
      values: [runIds],
    });
    const tasks = this.pipeline.send<TaskRow>({
      text: `SELECT ${TASK_COLUMNS} FROM tasks WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE`,
      values: [keys],
    });
    this.ahead = Promise.all([runs, tasks]).then(([runRows, taskRows]) => {
      for (const row of runRows) this.runsAhead.set(row.run_id, row.state);
      for (const row of taskRows) this.tasksAhead.set(row.key, row);
    });
    // Its failure is the batch's, reported by the pipeline.
    this.ahead.catch(() => undefined);
  }

  /**
   * Looks up the running runs of the workflows the batch's starts name (sent, not awaited): one
   * statement for all of them, where each unit alone would send its own, and its writes with it.
   * Not locked, as `getRunningRunId`: a concurrent start of the same id is caught by the unique
   * index of running workflow ids, a transient failure that reruns the batch.
   */
  readRunningAhead(workflowIds: string[]): void {
    const ids = [...new Set(workflowIds)];
    if (ids.length < 2) return;
    for (const id of ids) this.runningLookedUp.add(id);
    // Unnamed: planned for the array at hand (see readAhead).
    const rows = this.pipeline.send<{ workflow_id: string; run_id: string }>({
      text: `SELECT workflow_id, run_id FROM executions WHERE workflow_id = ANY($1::text[]) AND status = 'Running'`,
      values: [ids],
    });
    this.runningRead = rows.then((found) => {
      for (const row of found) this.runningAhead.set(row.workflow_id, row.run_id);
    });
    // Its failure is the batch's, reported by the pipeline.
    this.runningRead.catch(() => undefined);
  }

  /**
   * The running run of `workflowId` as looked up ahead, if it was and no unit has written a run of
   * that workflow since; undefined at once otherwise (the caller then reads the database).
   */
  runningRunAhead(workflowId: string): Promise<string | undefined> | undefined {
    if (!this.runningLookedUp.has(workflowId) || this.writtenWorkflows.has(workflowId))
      return undefined;
    return this.runningRead.then(() => this.runningAhead.get(workflowId));
  }

  /**
   * When this process knows every row the reads name (it wrote them last), the units get them from
   * there at once; one statement locks the rows, in the same order as a read ahead, and fails the
   * transaction if any of them changed since.
   */
  private takeKnown(reads: { runId: string; taskKey: string }[]): boolean {
    if (!this.known || reads.length === 0) return false;
    const runs = new Map<string, string>();
    const tasks = new Map<string, TaskRow>();
    for (const { runId, taskKey } of reads) {
      const known = this.known.lookup(runId, taskKey);
      if (!known) return false;
      runs.set(runId, known.state);
      tasks.set(taskKey, known.task);
    }
    for (const [runId, state] of runs) this.runsAhead.set(runId, state);
    for (const [key, row] of tasks) this.tasksAhead.set(key, row);
    // Not waited for: a failure aborts the transaction, and the pipeline reports it. The function
    // orders the rows it locks itself.
    void this.pipeline.send({
      name: 'keel_expect_rows',
      text: 'SELECT keel_expect_rows($1::json, $2::json)',
      values: [
        `[${[...runs].map(([r, state]) => jsonRow({ r }, 's', state)).join(',')}]`,
        `[${[...tasks.values()].map(taskJsonRow).join(',')}]`,
      ],
    });
    return true;
  }

  /**
   * The run (and task) as read ahead, if they were and no unit has written to the run since;
   * undefined at once otherwise (the caller then reads the database without delay).
   */
  runAhead(
    runId: string,
    taskKey?: string,
  ): Promise<{ state: ExecutionState | undefined; task: TaskRecord | undefined }> | undefined {
    if (!this.runsAhead.has(runId) || this.written.has(runId)) return undefined;
    if (taskKey !== undefined && !this.tasksAhead.has(taskKey)) return undefined;
    return this.ahead.then(() => {
      const state = this.runsAhead.get(runId);
      const task = taskKey === undefined ? undefined : this.tasksAhead.get(taskKey);
      return {
        state: state === undefined ? undefined : (JSON.parse(state) as ExecutionState),
        task: task && taskFromRow(task),
      };
    });
  }

  /** A task as read ahead, if it was and no unit has written to its run since (as `runAhead`). */
  taskAhead(runId: string, key: string): Promise<{ task: TaskRecord | undefined }> | undefined {
    if (!this.tasksAhead.has(key) || this.written.has(runId)) return undefined;
    return this.ahead.then(() => {
      const row = this.tasksAhead.get(key);
      return { task: row && taskFromRow(row) };
    });
  }

  /** A unit is about to write to these runs. */
  writing(runIds: Iterable<string>): void {
    for (const runId of runIds) this.written.add(runId);
  }

  /** A unit is about to write a run (inserted or updated) of `workflowId`. */
  writingWorkflow(workflowId: string): void {
    this.writtenWorkflows.add(workflowId);
  }

  /** A unit finished: its writes join the batch's. */
  absorb(writes: PendingWrites): void {
    this.pending.absorb(writes);
  }

  /** Sends the held writes and `notifications` as one statement, without waiting for it. */
  flush(notifications: Notification[] = []): void {
    if (this.pending.empty && notifications.length === 0) return;
    if (this.recordWrites) this.flushes.push(this.pending.rowsWritten());
    const statement = this.pending.toStatement(notifications);
    this.pending = new PendingWrites();
    void this.pipeline.send(statement);
  }
}
