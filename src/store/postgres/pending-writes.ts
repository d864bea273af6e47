/**
 * Writes of a PostgreSQL transaction, held back and sent as ONE statement (data-modifying CTEs)
 * instead of one round trip each: on a network database the round trips, not the rows, are the cost.
 * Task changes are reduced to their net effect first, so that no statement touches a row twice.
 */
import type { ExecutionState } from '../../state/execution-state.ts';
import type { HistoryEvent } from '../../state/events.ts';
import { jsonOfAttributes } from '../../state/event-json.ts';
import type { SearchAttributeValue } from '../../state/search-attributes.ts';
import type { TaskChange, TaskRecord } from '../../state/tasks.ts';
import type { TaskRow } from '../rows.ts';
import type { Notification } from './notifications.ts';

/**
 * Rows as a flush leaves them: runs' state JSON (null: the run closed), tasks (null: deleted), and
 * the runs whose tasks all went (before the tasks written with them).
 */
export interface RowsWritten {
  runs: Map<string, string | null>;
  tasks: Map<string, TaskRow | null>;
  deletedRuns: string[];
}

/**
 * Up to this many runs updated (or tasks deleted) in one statement are each addressed by key; more
 * are joined with an array, a statement then planned anew each time (see `toStatement`).
 */
const BY_KEY_MAX = 4;

export class PendingWrites {
  private events: {
    runId: string;
    eventId: number;
    eventTime: number;
    eventType: string;
    attributes: string;
  }[] = [];
  private inserted = new Map<string, ExecutionValues>();
  private updated = new Map<string, ExecutionValues>();
  /** Net effect per task key: the row of the last put, or null for deleted. */
  private tasks = new Map<string, TaskRow | null>();
  /** Runs whose tasks were all deleted; keys put after that are kept. */
  private deletedRuns = new Set<string>();
  private searchAttributes = new Map<string, Record<string, SearchAttributeValue>>();

  get empty(): boolean {
    return (
      this.events.length === 0 &&
      this.inserted.size === 0 &&
      this.updated.size === 0 &&
      this.tasks.size === 0 &&
      this.deletedRuns.size === 0 &&
      this.searchAttributes.size === 0
    );
  }

  appendEvents(runId: string, events: HistoryEvent[]): void {
    for (const e of events) {
      this.events.push({
        runId,
        eventId: e.eventId,
        eventTime: e.eventTime,
        eventType: e.eventType,
        attributes: jsonOfAttributes(e.attributes),
      });
    }
  }

  insertExecution(state: ExecutionState): void {
    this.inserted.set(state.runId, valuesOf(state));
  }

  updateExecution(state: ExecutionState): void {
    // An update of a run inserted in the same flush folds into the insert.
    if (this.inserted.has(state.runId)) this.inserted.set(state.runId, valuesOf(state));
    else this.updated.set(state.runId, valuesOf(state));
  }

  applyTaskChanges(changes: TaskChange[]): void {
    for (const change of changes) {
      if (change.op === 'put') this.tasks.set(change.task.key, taskRowOf(change.task));
      else if (change.op === 'delete') this.tasks.set(change.key, null);
      else {
        for (const key of this.tasks.keys())
          if (key.startsWith(`${change.runId}/`)) this.tasks.delete(key);
        this.deletedRuns.add(change.runId);
      }
    }
  }

  replaceSearchAttributes(runId: string, values: Record<string, SearchAttributeValue>): void {
    this.searchAttributes.set(runId, values);
  }

  /** The rows as these writes leave them: what the process knows of them once they commit. */
  rowsWritten(): RowsWritten {
    const runs = new Map<string, string | null>();
    for (const [runId, values] of [...this.inserted, ...this.updated])
      runs.set(runId, values.status === 'Running' ? values.json : null);
    return { runs, tasks: new Map(this.tasks), deletedRuns: [...this.deletedRuns] };
  }

  /** Adds the writes of `later` (another unit, after this one's) as if they had been made here. */
  absorb(later: PendingWrites): void {
    this.events.push(...later.events);
    for (const [runId, values] of later.inserted) this.inserted.set(runId, values);
    for (const [runId, values] of later.updated) {
      if (this.inserted.has(runId)) this.inserted.set(runId, values);
      else this.updated.set(runId, values);
    }
    // Its deletions of whole runs came before its own puts (which it kept), after all of ours.
    for (const runId of later.deletedRuns) {
      for (const key of this.tasks.keys()) if (key.startsWith(`${runId}/`)) this.tasks.delete(key);
      this.deletedRuns.add(runId);
    }
    for (const [key, task] of later.tasks) this.tasks.set(key, task);
    for (const [runId, values] of later.searchAttributes) this.searchAttributes.set(runId, values);
  }

  /** The statement and its parameters; `notifications` are sent in the same statement. */
  toStatement(notifications: Notification[] = []): {
    name?: string;
    text: string;
    values: unknown[];
  } {
    const values: unknown[] = [];
    const p = (value: unknown, cast: string) => {
      values.push(value);
      return `$${values.length}::${cast}`;
    };
    /**
     * Rows made by `jsonRow`, as one `json_to_recordset` parameter. Their payloads (always JSON
     * objects) are read as text columns: json_to_recordset hands a text column an object's text
     * verbatim, where a json column would parse it once more after the cast to json has.
     */
    const jsonRows = (rows: string[]) => p(`[${rows.join(',')}]`, 'json');
    /** `unnest` of one array parameter per column: a batch of rows in one parameter each. */
    const unnest = <T>(rows: T[], columns: [column: (row: T) => unknown, cast: string][]) =>
      `unnest(${columns.map(([column, cast]) => p(rows.map(column), cast)).join(', ')})`;
    const parts: string[] = [];
    const shape: string[] = [];
    if (this.events.length > 0) {
      shape.push('e');
      // One JSON array, the attributes in it as they are (json keeps their text verbatim): nothing
      // to escape, unlike a text[] parameter, which pg escapes element by element.
      const rows = this.events.map((x) =>
        jsonRow({ r: x.runId, i: x.eventId, t: x.eventTime, y: x.eventType }, 'a', x.attributes),
      );
      parts.push(`e AS (INSERT INTO history_events (run_id, event_id, event_time, event_type, attributes)
        SELECT r, i, t, y, a FROM json_to_recordset(${jsonRows(rows)})
          AS x(r text, i int, t bigint, y text, a text))`);
    }
    if (this.inserted.size > 0) {
      shape.push('i');
      const rows = [...this.inserted.values()].map((s) =>
        jsonRow(
          {
            r: s.runId,
            w: s.workflowId,
            y: s.workflowType,
            q: s.taskQueue,
            t: s.startTime,
            ...changingColumns(s),
          },
          'j',
          s.json,
        ),
      );
      parts.push(`i AS (INSERT INTO executions (run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time,
          history_length, memo, search_attributes, state)
        SELECT r, w, y, q, s, t, c, h, m, a, j FROM json_to_recordset(${jsonRows(rows)})
          AS x(r text, w text, y text, q text, s text, t bigint, c bigint, h int, m text, a text, j text))`);
    }
    if (this.updated.size <= BY_KEY_MAX) {
      // A few runs (usually one): key lookups, which no plan can turn into a scan.
      for (const [n, x] of [...this.updated.values()].entries()) {
        parts.push(`u${n} AS (UPDATE executions SET status = ${p(x.status, 'text')}, close_time = ${p(x.closeTime, 'bigint')},
          history_length = ${p(x.historyLength, 'int')}, memo = ${p(x.memo, 'text')},
          search_attributes = ${p(x.searchAttributes, 'text')}, state = ${p(x.json, 'text')}
        WHERE run_id = ${p(x.runId, 'text')})`);
      }
      if (this.updated.size > 0) shape.push(`u${this.updated.size}`);
    } else {
      shape.push('u');
      // The states as verbatim JSON (a text[] would be escaped element by element). The planner
      // guesses 100 rows from json_to_recordset and would scan a table of a few thousand runs
      // for them: the keys as an array let it find them by key.
      const rows = [...this.updated.values()].map((s) =>
        jsonRow({ r: s.runId, ...changingColumns(s) }, 'j', s.json),
      );
      parts.push(`u AS (UPDATE executions x SET status = v.s, close_time = v.c, history_length = v.h,
          memo = v.m, search_attributes = v.a, state = v.j
        FROM json_to_recordset(${jsonRows(rows)})
          AS v(r text, s text, c bigint, h int, m text, a text, j text)
        WHERE x.run_id = ANY(${p([...this.updated.keys()], 'text[]')}) AND x.run_id = v.r)`);
    }
    const puts = [...this.tasks.values()].filter((t) => t !== null);
    const deletes = [...this.tasks.entries()].filter(([, t]) => t === null).map(([key]) => key);
    if (deletes.length <= BY_KEY_MAX) {
      for (const [n, key] of deletes.entries())
        parts.push(`d${n} AS (DELETE FROM tasks WHERE key = ${p(key, 'text')})`);
      if (deletes.length > 0) shape.push(`d${deletes.length}`);
    } else {
      shape.push('d');
      parts.push(`d AS (DELETE FROM tasks WHERE key = ANY(${p(deletes, 'text[]')}))`);
    }
    if (this.deletedRuns.size > 0) {
      shape.push(this.deletedRuns.size === 1 ? 'r1' : 'r');
      // Keys put after the run's tasks were deleted stay (and are written by the insert below).
      const kept = p(
        puts.map((t) => t.key),
        'text[]',
      );
      if (this.deletedRuns.size === 1) {
        const [runId] = this.deletedRuns;
        parts.push(`r AS (DELETE FROM tasks WHERE key >= ${p(`${runId}/`, 'text')} AND key < ${p(`${runId}0`, 'text')}
          AND NOT (key = ANY(${kept})))`);
      } else {
        parts.push(`r AS (DELETE FROM tasks t USING ${unnest(
          [...this.deletedRuns],
          [
            [(r) => `${r}/`, 'text[]'],
            [(r) => `${r}0`, 'text[]'],
          ],
        )} AS k(lo, hi)
          WHERE t.key >= k.lo AND t.key < k.hi AND NOT (t.key = ANY(${kept})))`);
      }
    }
    if (puts.length > 0) {
      shape.push('t');
      const rows = puts.map(taskJsonRow);
      parts.push(`t AS (INSERT INTO tasks (key, kind, run_id, task_queue, state, expires_at, claim_token, claimed_by, data)
        SELECT k, n, r, q, s, e, c, b, d FROM json_to_recordset(${jsonRows(rows)})
          AS x(k text, n text, r text, q text, s text, e bigint, c bigint, b text, d text)
        ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, run_id = excluded.run_id, task_queue = excluded.task_queue,
          state = excluded.state, expires_at = excluded.expires_at, claim_token = excluded.claim_token,
          claimed_by = excluded.claimed_by, data = excluded.data)`);
    }
    if (this.searchAttributes.size > 0) {
      shape.push(this.searchAttributes.size === 1 ? 's1' : 's');
      const runIds = [...this.searchAttributes.keys()];
      const rows: [string, string, string | null, number | null][] = [];
      for (const [runId, attributes] of this.searchAttributes) {
        for (const [name, entry] of Object.entries(attributes)) {
          for (const value of Array.isArray(entry.value) ? entry.value : [entry.value]) {
            rows.push([
              runId,
              name,
              typeof value === 'string' ? value : null,
              typeof value === 'number'
                ? value
                : typeof value === 'boolean'
                  ? value
                    ? 1
                    : 0
                  : null,
            ]);
          }
        }
      }
      parts.push(
        runIds.length === 1
          ? `sd AS (DELETE FROM search_attributes WHERE run_id = ${p(runIds[0], 'text')})`
          : `sd AS (DELETE FROM search_attributes WHERE run_id = ANY(${p(runIds, 'text[]')}))`,
      );
      parts.push(`si AS (INSERT INTO search_attributes (run_id, name, value_text, value_num)
        SELECT * FROM ${unnest(rows, [
          [(r) => r[0], 'text[]'],
          [(r) => r[1], 'text[]'],
          [(r) => r[2], 'text[]'],
          [(r) => r[3], 'float8[]'],
        ])})`);
    }
    // One or two NOTIFYs (one per channel) are the rule; a commit with more (a big batch's hints
    // split over several payloads) sends them as arrays, so that the statement's shape, and the
    // name it is prepared under, stay the same whatever their number.
    let tail = 'SELECT 1';
    if (notifications.length > 2) {
      tail = `SELECT pg_notify(c, m) FROM unnest(${p(
        notifications.map((n) => n.channel),
        'text[]',
      )}, ${p(
        notifications.map((n) => n.payload),
        'text[]',
      )}) AS x(c, m)`;
      shape.push('N');
    } else if (notifications.length > 0) {
      tail = `SELECT ${notifications
        .map(({ channel, payload }) => `pg_notify(${p(channel, 'text')}, ${p(payload, 'text')})`)
        .join(', ')}`;
      shape.push(...notifications.map(() => 'n'));
    }
    const text = parts.length > 0 ? `WITH ${parts.join(',\n')}\n${tail}` : tail;
    // Statements of the same shape are prepared once per connection, their plan cached: only those
    // that reach rows by key, whose plan is right however big the tables grow. A statement joining
    // an array of several runs or keys (a claim of many tasks, say) is planned anew each time, for
    // the array and the tables as they are.
    const reachesRowsByKey = !shape.some((part) => ['u', 'd', 'r', 's'].includes(part));
    return reachesRowsByKey ? { name: `keel_w_${shape.join('')}`, text, values } : { text, values };
  }
}

/** A task as its row holds it, the data serialised when handed over (the engine mutates its objects). */
function taskRowOf(task: TaskRecord): TaskRow {
  return {
    key: task.key,
    kind: task.kind,
    run_id: task.runId,
    task_queue: task.taskQueue ?? null,
    state: task.state,
    expires_at: task.expiresAt ?? null,
    claim_token: task.claimToken,
    claimed_by: task.claimedBy ?? null,
    data: JSON.stringify(task.data),
  };
}

/**
 * A task row as a `json_to_recordset` parameter takes it (`k, n, r, q, s, e, c, b, d`): the
 * insert of tasks, and `keel_expect_rows` (migration 0003).
 */
export function taskJsonRow(row: TaskRow): string {
  const { key: k, kind: n, run_id: r, task_queue: q, state: s } = row;
  return jsonRow(
    { k, n, r, q, s, e: row.expires_at, c: row.claim_token, b: row.claimed_by },
    'd',
    row.data,
  );
}

/**
 * One row of a `json_to_recordset` parameter: `columns` serialised, and `payload` (JSON text
 * already) added under `key` as it is.
 */
export function jsonRow(
  columns: Record<string, string | number | null>,
  key: string,
  payload: string,
): string {
  return `${JSON.stringify(columns).slice(0, -1)},"${key}":${payload}}`;
}

/** The columns of an execution that change over its life, keyed as its `json_to_recordset` rows are. */
function changingColumns(s: ExecutionValues) {
  return { s: s.status, c: s.closeTime, h: s.historyLength, m: s.memo, a: s.searchAttributes };
}

/** An execution's columns, serialised when handed over: the engine keeps mutating its objects. */
interface ExecutionValues {
  runId: string;
  workflowId: string;
  workflowType: string;
  taskQueue: string;
  status: string;
  startTime: number;
  closeTime: number | null;
  historyLength: number;
  memo: string | null;
  searchAttributes: string | null;
  json: string;
}

function valuesOf(s: ExecutionState): ExecutionValues {
  return {
    runId: s.runId,
    workflowId: s.workflowId,
    workflowType: s.workflowType,
    taskQueue: s.taskQueue,
    status: s.status,
    startTime: s.startTime,
    closeTime: s.closeTime ?? null,
    historyLength: s.nextEventId - 1,
    memo: s.memo ? JSON.stringify(s.memo) : null,
    searchAttributes: s.searchAttributes ? JSON.stringify(s.searchAttributes) : null,
    json: JSON.stringify(s),
  };
}
