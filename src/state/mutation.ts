/**
 * A transition's output, built step by step: the events it appends (with ids), the tasks it writes,
 * the new state, and the effects it has on other runs (a child to start, a parent to notify, a
 * signal to deliver), which the engine applies in the same transaction. Nothing here touches a
 * database.
 */
import { uuid7 } from '../common/ids.ts';
import type { ExecutionState } from './execution-state.ts';
import type { EventAttributes, EventType, HistoryEvent, NewEvent, ParentInfo } from './events.ts';
import type { StartWorkflowInput } from './execution.ts';
import { TaskKind, TaskState, taskKey, type TaskChange, type TaskRecord } from './tasks.ts';

/**
 * Placeholder for `startedEventId` in a buffered activity outcome: its Started event is buffered
 * just before it and gets its id only when the buffer is flushed.
 */
export const STARTED_EVENT_ID_PENDING = -1;

/** The outcome of a child as its parent records it. */
export type ChildOutcome =
  | { eventType: 'ChildWorkflowExecutionCompleted'; attributes: { result?: unknown } }
  | {
      eventType: 'ChildWorkflowExecutionFailed';
      attributes: Pick<EventAttributes['ChildWorkflowExecutionFailed'], 'failure' | 'retryState'>;
    }
  | { eventType: 'ChildWorkflowExecutionCanceled'; attributes: { details?: unknown[] } }
  | {
      eventType: 'ChildWorkflowExecutionTimedOut';
      attributes: Pick<EventAttributes['ChildWorkflowExecutionTimedOut'], 'retryState'>;
    }
  | { eventType: 'ChildWorkflowExecutionTerminated'; attributes: { reason?: string } };

/** What a run's transition asks of other runs. */
export type Effect =
  | {
      type: 'start-child';
      parent: ParentInfo;
      parentWorkflowType: string;
      attributes: EventAttributes['StartChildWorkflowExecutionInitiated'];
    }
  | {
      type: 'notify-parent';
      parent: ParentInfo;
      child: { workflowId: string; runId: string; workflowType: string };
      outcome: ChildOutcome;
    }
  | {
      type: 'close-child';
      policy: 'TERMINATE' | 'REQUEST_CANCEL';
      workflowId: string;
      /** The closing parent and the event that started the child: only a run started by it is closed. */
      parent: { runId: string; initiatedEventId: number };
      reason: string;
    }
  | {
      type: 'signal-external';
      source: { runId: string; initiatedEventId: number };
      workflowId: string;
      runId?: string;
      signalName: string;
      input: unknown[];
    }
  | {
      type: 'cancel-external';
      source: { runId: string; initiatedEventId: number };
      workflowId: string;
      runId?: string;
      /** Only a run whose parent is the source: a child's cancel never reaches a workflow that reused its id. */
      childWorkflowOnly: boolean;
    }
  | { type: 'start-run'; input: StartWorkflowInput; backoff?: number };

export class Mutation {
  readonly events: HistoryEvent[] = [];
  readonly tasks: TaskChange[] = [];
  readonly effects: Effect[] = [];
  /** Set when the run's status changed to closed by this mutation. */
  closed = false;
  /** Set when the run's search attributes changed: the store rewrites their index rows. */
  searchAttributesChanged = false;

  constructor(
    readonly state: ExecutionState,
    readonly now: number,
    /** Run ids for runs this transition starts (continue-as-new, retries); time-ordered by default. */
    readonly newRunId: () => string = () => uuid7(now),
  ) {}

  /** Appends an event to the history and returns its id. `eventTime` defaults to now. */
  append<T extends EventType>(
    eventType: T,
    attributes: EventAttributes[T],
    eventTime = this.now,
  ): number {
    const eventId = this.state.nextEventId++;
    this.events.push({ eventId, eventTime, eventType, attributes } as HistoryEvent);
    this.state.lastEventTime = Math.max(this.state.lastEventTime ?? 0, eventTime);
    return eventId;
  }

  /**
   * Records an event the workflow must react to: buffered while a worker runs a workflow task (it is
   * written after that task's completion), otherwise appended, with a workflow task scheduled for it.
   */
  deliver(event: NewEvent): void {
    const wt = this.state.workflowTask;
    if (wt?.started) {
      this.state.bufferedEvents.push(event);
      return;
    }
    this.append(event.eventType, event.attributes);
    // A real event: the outstanding task (if any) can no longer vanish without a trace.
    if (wt) wt.speculative = false;
    this.scheduleWorkflowTask();
  }

  /**
   * Schedules a workflow task unless one is already outstanding. Retried attempts (2+) and
   * speculative tasks are transient: their Scheduled event is written only when they complete.
   */
  scheduleWorkflowTask(attempt = 1, delay = 0, speculative = false): void {
    if (this.state.workflowTask) return;
    const { state } = this;
    const transient = attempt > 1 || speculative;
    const scheduledEventId = transient
      ? 0
      : this.append('WorkflowTaskScheduled', {
          taskQueue: state.taskQueue,
          startToCloseTimeout: state.workflowTaskTimeout,
          attempt,
        });
    state.workflowTask = {
      scheduledEventId,
      attempt,
      scheduledTime: this.now,
      ...(speculative ? { speculative } : {}),
    };
    // A task ready now goes to the sticky queue, if any, until its schedule-to-start timeout.
    const sticky = delay > 0 ? undefined : state.sticky;
    const expiresAt =
      delay > 0 ? this.now + delay : sticky && this.now + sticky.scheduleToStartTimeout;
    this.put({
      key: taskKey.workflow(state.runId),
      kind: TaskKind.Workflow,
      runId: state.runId,
      taskQueue: sticky?.name ?? state.taskQueue,
      state: delay > 0 ? TaskState.Waiting : TaskState.Ready,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      claimToken: 0,
      data: {},
    });
  }

  put(task: TaskRecord): void {
    this.tasks.push({ op: 'put', task });
  }

  delete(key: string): void {
    this.tasks.push({ op: 'delete', key });
  }

  /** Writes the buffered events to the history, in arrival order. */
  flushBuffered(): void {
    const buffered = this.state.bufferedEvents;
    this.state.bufferedEvents = [];
    let lastStartedEventId = 0;
    for (const event of buffered) {
      const attributes = event.attributes as { startedEventId?: number };
      if (attributes.startedEventId === STARTED_EVENT_ID_PENDING)
        attributes.startedEventId = lastStartedEventId;
      const eventId = this.append(event.eventType, event.attributes);
      if (event.eventType === 'ActivityTaskStarted') lastStartedEventId = eventId;
    }
    // What closed while buffered is now closed for good.
    const { activities, timers } = this.state;
    for (const [id, activity] of Object.entries(activities))
      if (activity.outcomeBuffered) delete activities[id];
    for (const [id, timer] of Object.entries(timers)) if (timer.firedBuffered) delete timers[id];
  }
}
