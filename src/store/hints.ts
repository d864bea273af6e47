/** What both stores do with hints: tell their listeners, and derive them from task writes. */
import { TaskState, type TaskRecord } from '../state/tasks.ts';
import type { ExecutionState } from '../state/execution-state.ts';
import type { HistoryEvent } from '../state/events.ts';
import { copyEvents } from '../state/event-json.ts';
import type { StoreHint } from './store.ts';

/** A store's hint listeners. Hints are advisory: a listener that throws must not disturb the store or the other listeners. */
export class HintListeners {
  private readonly listeners = new Set<(hint: StoreHint) => void>();

  subscribe(listener: (hint: StoreHint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(hint: StoreHint): void {
    for (const listener of this.listeners) {
      try {
        listener(hint);
      } catch (error) {
        process.emitWarning(
          `A store hint listener threw: ${(error as Error)?.message ?? String(error)}`,
        );
      }
    }
  }
}

/** The hints a written task gives: ready on its queue, due at a time, a query answered. */
export function hintsOfTaskPut(task: TaskRecord): StoreHint[] {
  const hints: StoreHint[] = [];
  if (task.state === TaskState.Ready && task.taskQueue !== undefined)
    hints.push({ type: 'task-ready', kind: task.kind, taskQueue: task.taskQueue });
  if (task.expiresAt !== undefined) hints.push({ type: 'expiry', at: task.expiresAt });
  if (task.kind === 'query' && task.data.answer)
    hints.push({ type: 'query-answered', key: task.key });
  return hints;
}

/**
 * The hint of a run updated to a closed status, with its outcome if `appended` (the last event the
 * transaction appended to the run) is the closing event: copied, as a read would give it.
 */
export function runClosedHint(
  state: ExecutionState,
  appended: HistoryEvent | undefined,
): StoreHint {
  const closing = appended?.eventId === state.nextEventId - 1 ? appended : undefined;
  return {
    type: 'run-closed',
    runId: state.runId,
    ...(closing ? { outcome: { status: state.status, closing: copyEvents([closing])[0]! } } : {}),
  };
}
