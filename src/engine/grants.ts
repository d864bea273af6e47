/** What a worker receives when it claims a task, and what it returns to complete it. */
import type { HistoryEvent } from '../state/events.ts';
import type { ActivityTaskData, TaskClaim } from '../state/tasks.ts';
import type { WorkflowTaskStart } from '../state/workflow-task.ts';

export interface WorkflowTaskGrant {
  claim: TaskClaim;
  runId: string;
  workflowId: string;
  workflowType: string;
  taskQueue: string;
  start: WorkflowTaskStart;
  /** History from the event the worker asked for, ending with the task's (transient) Started event. */
  history: HistoryEvent[];
}

export interface ActivityTaskGrant {
  claim: TaskClaim;
  runId: string;
  taskQueue: string;
  /** The activity's options, input and attempt state (attempt number, last heartbeat details). */
  task: ActivityTaskData;
  startedTime: number;
}

/** A query to answer from the workflow's state (the worker reads the history it needs under the run's lock). */
export interface QueryTaskGrant {
  claim: TaskClaim;
  runId: string;
  workflowId: string;
  workflowType: string;
  taskQueue: string;
  queryType: string;
  args: unknown[];
  /** The run's last completed workflow task when the query was claimed. */
  lastCompletedStartedEventId: number;
}
