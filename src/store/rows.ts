/** Conversions between database rows and the engine's records (the same column names in every store). */
import type { ExecutionState, ExecutionStatus } from '../state/execution-state.ts';
import type { HistoryEvent } from '../state/events.ts';
import type { TaskRecord } from '../state/tasks.ts';
import type { ExecutionSummary, RunOutcome } from './store.ts';

export interface TaskRow {
  key: string;
  kind: string;
  run_id: string;
  task_queue: string | null;
  state: string;
  expires_at: number | null;
  claim_token: number;
  claimed_by: string | null;
  data: string;
}

export function taskFromRow(row: TaskRow): TaskRecord {
  return {
    key: row.key,
    kind: row.kind,
    runId: row.run_id,
    ...(row.task_queue !== null ? { taskQueue: row.task_queue } : {}),
    state: row.state,
    ...(row.expires_at !== null ? { expiresAt: row.expires_at } : {}),
    claimToken: row.claim_token,
    ...(row.claimed_by !== null ? { claimedBy: row.claimed_by } : {}),
    data: JSON.parse(row.data),
  } as TaskRecord;
}

export function taskParams(task: TaskRecord): unknown[] {
  return [
    task.key,
    task.kind,
    task.runId,
    task.taskQueue ?? null,
    task.state,
    task.expiresAt ?? null,
    task.claimToken,
    task.claimedBy ?? null,
    JSON.stringify(task.data),
  ];
}

export interface EventRow {
  event_id: number;
  event_time: number;
  event_type: string;
  attributes: string;
}

export function eventFromRow(row: EventRow): HistoryEvent {
  return {
    eventId: row.event_id,
    eventTime: row.event_time,
    eventType: row.event_type,
    attributes: JSON.parse(row.attributes),
  } as HistoryEvent;
}

/** A run's status joined with its last event (none while it runs): what `getOutcome` reads. */
export type OutcomeRow = { status: ExecutionStatus } & Partial<EventRow>;

export function outcomeFromRow(row: OutcomeRow): RunOutcome {
  if (row.status === 'Running' || row.event_id == null) return { status: row.status };
  return { status: row.status, closing: eventFromRow(row as EventRow) };
}

export interface ExecutionRow {
  run_id: string;
  workflow_id: string;
  workflow_type: string;
  task_queue: string;
  status: string;
  start_time: number;
  close_time: number | null;
  history_length: number;
  memo: string | null;
  search_attributes: string | null;
}

export function summaryFromRow(row: ExecutionRow): ExecutionSummary {
  return {
    workflowId: row.workflow_id,
    runId: row.run_id,
    workflowType: row.workflow_type,
    taskQueue: row.task_queue,
    status: row.status as ExecutionSummary['status'],
    startTime: row.start_time,
    ...(row.close_time !== null ? { closeTime: row.close_time } : {}),
    historyLength: row.history_length,
    ...(row.memo !== null ? { memo: JSON.parse(row.memo) as Record<string, unknown> } : {}),
    ...(row.search_attributes !== null
      ? {
          searchAttributes: JSON.parse(
            row.search_attributes,
          ) as ExecutionSummary['searchAttributes'],
        }
      : {}),
  };
}

/** Parameters in the column order of the executions table. */
export function executionParams(state: ExecutionState): unknown[] {
  return [
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
  ];
}
