import { ExecutionStatus } from './execution-state.ts';
import type { Mutation } from './mutation.ts';

/**
 * Closes the run after its closing event was appended: no task of it remains, buffered events are
 * dropped (nothing can react to them any more), and its status is final.
 */
export function closeRun(m: Mutation, status: Exclude<ExecutionStatus, 'Running'>): void {
  const { state } = m;
  state.status = status;
  state.closeTime = m.now;
  state.workflowTask = undefined;
  state.bufferedEvents = [];
  state.activities = {};
  state.timers = {};
  m.tasks.push({ op: 'delete-run', runId: state.runId });
  m.closed = true;
}

/** Guards transitions that only a running workflow accepts. */
export function isClosed(status: ExecutionStatus): boolean {
  return status !== ExecutionStatus.Running;
}
