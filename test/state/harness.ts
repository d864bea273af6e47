/**
 * A tiny in-memory driver for the pure state transitions: it plays the store's part (a run's state,
 * its history and its task rows) so tests can chain transitions and look at what each one wrote.
 * Every step works on a copy of the state, as the engine works on a freshly loaded one, and commits
 * only if the transition did not throw.
 */
import { compileRetryPolicy, type RetryPolicy } from '../../src/common/retry-policy.ts';
import type { FailureInfo } from '../../src/common/failure-converter.ts';
import { claimActivityTask } from '../../src/state/activity-task.ts';
import type { Command, CommandAttributes } from '../../src/state/commands.ts';
import type { EventType, HistoryEvent } from '../../src/state/events.ts';
import type { ExecutionState } from '../../src/state/execution-state.ts';
import { startWorkflow, type StartWorkflowInput } from '../../src/state/execution.ts';
import { Mutation } from '../../src/state/mutation.ts';
import {
  TaskState,
  taskKey,
  type TaskChange,
  type TaskClaim,
  type TaskRecord,
} from '../../src/state/tasks.ts';
import {
  claimWorkflowTask,
  completeWorkflowTask,
  type WorkflowTaskStart,
} from '../../src/state/workflow-task.ts';

export const RUN_ID = 'run-1';
export const T0 = 1_000_000;

export const defaultStart: StartWorkflowInput = {
  workflowId: 'wf-1',
  runId: RUN_ID,
  workflowType: 'orderWorkflow',
  taskQueue: 'main',
  input: [42],
  workflowTaskTimeout: 10_000,
};

export class Run {
  state: ExecutionState;
  readonly history: HistoryEvent[] = [];
  readonly tasks = new Map<string, TaskRecord>();
  now: number;
  /** The mutation of the last successful step. */
  last: Mutation;
  private nextToken = 100;

  constructor(input: Partial<StartWorkflowInput> = {}, now = T0) {
    this.now = now;
    const m = startWorkflow({ ...defaultStart, ...input }, now);
    this.state = m.state;
    this.last = m;
    this.commit(m);
  }

  /** Runs one transition at `now` (advancing the clock by `advance` first) on a copy of the state. */
  step<T>(fn: (m: Mutation) => T, advance = 0): T {
    this.now += advance;
    const m = new Mutation(structuredClone(this.state), this.now);
    const result = fn(m);
    this.state = m.state;
    this.last = m;
    this.commit(m);
    return result;
  }

  private commit(m: Mutation): void {
    this.history.push(...m.events);
    applyTaskChanges(this.tasks, m.tasks);
  }

  token(): number {
    return this.nextToken++;
  }

  get workflowTaskRow(): TaskRecord<'workflow'> | undefined {
    return this.tasks.get(taskKey.workflow(this.state.runId)) as TaskRecord<'workflow'> | undefined;
  }

  activityRow(activityId: string): TaskRecord<'activity'> | undefined {
    for (const task of this.tasks.values())
      if (task.kind === 'activity' && task.data.activityId === activityId) return task;
    return undefined;
  }

  timerRow(timerId: string): TaskRecord<'timer'> {
    const task = this.tasks.get(taskKey.timer(this.state.runId, timerId));
    if (!task || task.kind !== 'timer') throw new Error(`no timer task ${timerId}`);
    return task;
  }

  /** What the engine does when a backed-off workflow task's wait is over. */
  readyWorkflowTask(): void {
    const row = this.workflowTaskRow;
    if (!row) throw new Error('no workflow task row');
    this.tasks.set(row.key, { ...row, state: TaskState.Ready, expiresAt: undefined });
  }

  claimWorkflowTask(
    identity = 'wf-worker',
    advance = 0,
  ): { claim: TaskClaim; start: WorkflowTaskStart } {
    const row = this.workflowTaskRow;
    if (!row) throw new Error('no workflow task row to claim');
    const token = this.token();
    const claimed = this.step((m) => claimWorkflowTask(m, row, identity, token), advance);
    if (!claimed) throw new Error('workflow task could not be claimed');
    this.tasks.set(claimed.task.key, claimed.task);
    return {
      claim: { key: claimed.task.key, claimToken: claimed.task.claimToken },
      start: claimed.start,
    };
  }

  completeWorkflowTask(claim: TaskClaim, commands: Command[], advance = 0, flags: number[] = []) {
    this.step(
      (m) =>
        completeWorkflowTask(
          m,
          this.workflowTaskRow,
          claim,
          commands,
          'wf-worker',
          flags,
          this.tasks,
        ),
      advance,
    );
  }

  /** Claims and completes the outstanding workflow task. */
  runWorkflowTask(commands: Command[], advance = 0): void {
    const { claim } = this.claimWorkflowTask();
    this.completeWorkflowTask(claim, commands, advance);
  }

  /** Starts an attempt of the activity; returns its claim. */
  claimActivity(activityId: string, identity = 'act-worker', advance = 0): TaskClaim {
    this.now += advance;
    const row = this.activityRow(activityId);
    if (!row) throw new Error(`no activity task for ${activityId}`);
    if (row.state !== TaskState.Ready) throw new Error(`activity ${activityId} is ${row.state}`);
    const claimed = claimActivityTask(row, identity, this.now, this.token());
    this.tasks.set(claimed.key, claimed);
    return { key: claimed.key, claimToken: claimed.claimToken };
  }

  eventsOf<T extends EventType>(type: T): HistoryEvent<T>[] {
    return this.history.filter((e) => e.eventType === type) as HistoryEvent<T>[];
  }

  /** The last event of the history. */
  get lastEvent(): HistoryEvent {
    const event = this.history.at(-1);
    if (!event) throw new Error('empty history');
    return event;
  }
}

export function applyTaskChanges(tasks: Map<string, TaskRecord>, changes: TaskChange[]): void {
  for (const change of changes) {
    if (change.op === 'put') tasks.set(change.task.key, change.task);
    else if (change.op === 'delete') tasks.delete(change.key);
    else for (const [key, task] of tasks) if (task.runId === change.runId) tasks.delete(key);
  }
}

export const types = (events: { eventType: string }[]): string[] => events.map((e) => e.eventType);

// ---- commands ----

export function scheduleActivity(
  activityId: string,
  overrides: Partial<CommandAttributes['ScheduleActivityTask']> & { retry?: RetryPolicy } = {},
): Command<'ScheduleActivityTask'> {
  const { retry, ...rest } = overrides;
  return {
    commandType: 'ScheduleActivityTask',
    attributes: {
      activityId,
      activityType: 'charge',
      taskQueue: 'main',
      input: [activityId],
      startToCloseTimeout: 30_000,
      retryPolicy: compileRetryPolicy(retry ?? { initialInterval: 1000, maximumAttempts: 3 }),
      ...rest,
    },
  };
}

export const startTimer = (timerId: string, ms = 60_000): Command<'StartTimer'> => ({
  commandType: 'StartTimer',
  attributes: { timerId, startToFireTimeout: ms },
});

export const cancelTimer = (timerId: string): Command<'CancelTimer'> => ({
  commandType: 'CancelTimer',
  attributes: { timerId },
});

export const requestCancelActivity = (
  activityId: string,
): Command<'RequestCancelActivityTask'> => ({
  commandType: 'RequestCancelActivityTask',
  attributes: { activityId },
});

export const completeWorkflow = (result?: unknown): Command<'CompleteWorkflowExecution'> => ({
  commandType: 'CompleteWorkflowExecution',
  attributes: result === undefined ? {} : { result },
});

export const failWorkflow = (message = 'boom'): Command<'FailWorkflowExecution'> => ({
  commandType: 'FailWorkflowExecution',
  attributes: { failure: appFailure(message, 'Boom') },
});

export const cancelWorkflow = (): Command<'CancelWorkflowExecution'> => ({
  commandType: 'CancelWorkflowExecution',
  attributes: {},
});

export function appFailure(
  message: string,
  type = 'Error',
  extra: { nonRetryable?: boolean; nextRetryDelay?: number } = {},
): FailureInfo {
  return {
    message,
    applicationFailureInfo: {
      type,
      nonRetryable: extra.nonRetryable ?? false,
      ...(extra.nextRetryDelay !== undefined ? { nextRetryDelay: extra.nextRetryDelay } : {}),
    },
  };
}
