/**
 * A transition's output, built step by step: the events it appends (with ids), the tasks it writes
 * and the new state. The store persists one `Mutation` atomically; nothing here touches a database.
 */
import type { ExecutionState } from './execution-state.ts';
import type { EventAttributes, EventType, HistoryEvent, NewEvent } from './events.ts';
import { TaskKind, TaskState, taskKey, type TaskChange, type TaskRecord } from './tasks.ts';

/**
 * Placeholder for `startedEventId` in a buffered activity outcome: its Started event is buffered
 * just before it and gets its id only when the buffer is flushed.
 */
export const STARTED_EVENT_ID_PENDING = -1;

export class Mutation {
  readonly events: HistoryEvent[] = [];
  readonly tasks: TaskChange[] = [];
  /** Set when the run's status changed to closed by this mutation. */
  closed = false;

  constructor(
    readonly state: ExecutionState,
    readonly now: number,
  ) {}

  /** Appends an event to the history now and returns its id. */
  append<T extends EventType>(eventType: T, attributes: EventAttributes[T]): number {
    const eventId = this.state.nextEventId++;
    this.events.push({ eventId, eventTime: this.now, eventType, attributes } as HistoryEvent);
    return eventId;
  }

  /**
   * Records an event the workflow must react to: buffered while a worker runs a workflow task (it is
   * written after that task's completion), otherwise appended, with a workflow task scheduled for it.
   */
  deliver(event: NewEvent): void {
    if (this.state.workflowTask?.started) {
      this.state.bufferedEvents.push(event);
      return;
    }
    this.append(event.eventType, event.attributes);
    this.scheduleWorkflowTask();
  }

  /** Schedules a workflow task unless one is already outstanding. */
  scheduleWorkflowTask(attempt = 1, delay = 0): void {
    if (this.state.workflowTask) return;
    const { state } = this;
    // Retried attempts are transient: their Scheduled event is written only if the attempt completes.
    const scheduledEventId =
      attempt === 1
        ? this.append('WorkflowTaskScheduled', {
            taskQueue: state.taskQueue,
            startToCloseTimeout: state.workflowTaskTimeout,
            attempt,
          })
        : 0;
    state.workflowTask = { scheduledEventId, attempt, scheduledTime: this.now };
    this.put({
      key: taskKey.workflow(state.runId),
      kind: TaskKind.Workflow,
      runId: state.runId,
      taskQueue: state.taskQueue,
      state: delay > 0 ? TaskState.Waiting : TaskState.Ready,
      ...(delay > 0 ? { expiresAt: this.now + delay } : {}),
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
  }
}
