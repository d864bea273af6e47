/**
 * The mutable state of one workflow run: what the engine needs to decide the next transition
 * without reading the history. Stored as one JSON document next to the run's visibility columns.
 *
 * Run status transitions: Running → Completed | Failed | Canceled | Terminated | TimedOut; a closed
 * run never changes again (`assertRunning` guards every transition).
 */
import type { NewEvent } from './events.ts';

export const ExecutionStatus = {
  Running: 'Running',
  Completed: 'Completed',
  Failed: 'Failed',
  Canceled: 'Canceled',
  Terminated: 'Terminated',
  TimedOut: 'TimedOut',
} as const;
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];

/** The workflow task of a run: at most one is outstanding at a time. */
export interface WorkflowTaskState {
  /** Id of its WorkflowTaskScheduled event; for a retried (transient) attempt, the id it will get when written. */
  scheduledEventId: number;
  attempt: number;
  scheduledTime: number;
  /** Set while a worker holds the task. Events that arrive meanwhile are buffered. */
  started?: { time: number; identity: string };
}

export interface PendingActivity {
  scheduledEventId: number;
  activityType: string;
  cancelRequestedEventId?: number;
}

export interface PendingTimer {
  startedEventId: number;
}

export interface ExecutionState {
  workflowId: string;
  runId: string;
  workflowType: string;
  taskQueue: string;
  status: ExecutionStatus;
  startTime: number;
  closeTime?: number;
  /** Id the next history event will get. */
  nextEventId: number;
  workflowTaskTimeout: number;
  /** WorkflowTaskStarted id of the last completed workflow task (0 if none); lets a worker check that its cached copy is current. */
  lastCompletedStartedEventId: number;
  workflowTask?: WorkflowTaskState;
  /** Events that arrived while a workflow task was running, written after its completion (as Temporal does). */
  bufferedEvents: NewEvent[];
  activities: Record<string, PendingActivity>;
  timers: Record<string, PendingTimer>;
  cancelRequested: boolean;
  /** Why the last workflow task attempt failed, until one succeeds: shown by `describe()`. */
  lastWorkflowTaskFailure?: { cause: string; message: string; attempt: number; time: number };
}

export function isRunning(state: ExecutionState): boolean {
  return state.status === ExecutionStatus.Running;
}
