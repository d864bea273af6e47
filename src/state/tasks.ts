/**
 * Tasks: everything that must happen to a run later, one row each, keyed so that transitions can
 * name them without a database id.
 *
 * States: `ready` (a worker may claim it now), `claimed` (held by one worker until `expiresAt`, fenced
 * by `claimToken`), `waiting` (nothing to do until `expiresAt`: a timer, a retry backoff, a run timeout).
 * `expiresAt` is the time the engine must act if nothing else happens first; one scanner serves all kinds.
 */
import type { CompiledRetryPolicy } from '../common/retry-policy.ts';
import type { FailureInfo } from '../common/failure-converter.ts';

export const TaskKind = {
  Workflow: 'workflow',
  Activity: 'activity',
  Timer: 'timer',
  RunTimeout: 'run-timeout',
  /** A query for a worker to answer from the workflow's state; never part of the history. */
  Query: 'query',
} as const;
export type TaskKind = (typeof TaskKind)[keyof typeof TaskKind];

export const TaskState = { Ready: 'ready', Claimed: 'claimed', Waiting: 'waiting' } as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** What the activity task row carries: everything a worker needs to run an attempt, and the attempt's progress. */
export interface ActivityTaskData {
  workflowId: string;
  workflowType: string;
  scheduledEventId: number;
  activityId: string;
  activityType: string;
  input: unknown[];
  scheduledTime: number;
  scheduleToCloseTimeout?: number;
  scheduleToStartTimeout?: number;
  startToCloseTimeout: number;
  heartbeatTimeout?: number;
  retryPolicy: CompiledRetryPolicy;
  attempt: number;
  /** When the current attempt became claimable (schedule-to-start is measured from here). */
  readyTime: number;
  startedTime?: number;
  lastHeartbeatTime?: number;
  heartbeatDetails?: unknown;
  lastFailure?: FailureInfo;
  cancelRequested?: boolean;
}

export interface TimerTaskData {
  timerId: string;
}

export interface QueryTaskData {
  queryType: string;
  args: unknown[];
  /** Set once a worker answered; the asking client reads it and deletes the row. */
  answer?: { result: unknown } | { failure: FailureInfo };
}

export interface TaskData {
  workflow: Record<string, never>;
  activity: ActivityTaskData;
  timer: TimerTaskData;
  'run-timeout': { timeoutType: 'RUN' | 'EXECUTION' };
  query: QueryTaskData;
}

export type TaskRecord<K extends TaskKind = TaskKind> = {
  [P in K]: {
    key: string;
    kind: P;
    runId: string;
    /** Set for kinds that workers claim. */
    taskQueue?: string;
    state: TaskState;
    expiresAt?: number;
    claimToken: number;
    claimedBy?: string;
    data: TaskData[P];
  };
}[K];

export type TaskChange =
  | { op: 'put'; task: TaskRecord }
  | { op: 'delete'; key: string }
  | { op: 'delete-run'; runId: string };

export const taskKey = {
  workflow: (runId: string) => `${runId}/workflow`,
  activity: (runId: string, scheduledEventId: number) => `${runId}/activity/${scheduledEventId}`,
  timer: (runId: string, timerId: string) => `${runId}/timer/${timerId}`,
  runTimeout: (runId: string) => `${runId}/run-timeout`,
  query: (runId: string, queryId: string) => `${runId}/query/${queryId}`,
};

/** The run a task belongs to: every task key begins with the run id and a slash (`taskKey`). */
export function runOfTaskKey(key: string): string {
  return key.slice(0, key.indexOf('/'));
}

/** Proof that a worker holds a task: the completion is refused unless both still match. */
export interface TaskClaim {
  key: string;
  claimToken: number;
}
