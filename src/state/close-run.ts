import { ExecutionStatus } from './execution-state.ts';
import type { ChildOutcome, Mutation } from './mutation.ts';

/**
 * Closes the run after its closing event was appended: no task of it remains, buffered events are
 * dropped (nothing can react to them any more), its children get their parent-close policy, its
 * parent learns the outcome (unless the chain goes on in a new run), and its status is final.
 * Updates still in progress fail: the workflow closed before it could finish them.
 */
export function closeRun(
  m: Mutation,
  status: Exclude<ExecutionStatus, 'Running'>,
  outcomeForParent?: ChildOutcome,
): void {
  const { state } = m;
  state.status = status;
  state.closeTime = m.now;
  state.workflowTask = undefined;
  state.bufferedEvents = [];
  state.activities = {};
  state.timers = {};
  state.externals = {};
  for (const update of Object.values(state.updates ?? {})) {
    if (update.stage === 'admitted' || update.stage === 'accepted') {
      update.stage = 'completed';
      update.outcome = {
        failure: {
          message: `Workflow closed (${status}) before the update completed`,
          applicationFailureInfo: { type: 'WorkflowClosed', nonRetryable: true },
        },
      };
    }
  }
  for (const [initiatedEventId, child] of Object.entries(state.children ?? {})) {
    if (child.parentClosePolicy === 'ABANDON') continue;
    m.effects.push({
      type: 'close-child',
      policy: child.parentClosePolicy,
      workflowId: child.workflowId,
      // Not known to have started yet (its start may be in this very transaction, or may fail
      // because the id is taken): the policy applies only to a run this parent started.
      parent: { runId: state.runId, initiatedEventId: Number(initiatedEventId) },
      reason: `parent workflow '${state.workflowId}' closed (${status}); parent close policy ${child.parentClosePolicy}`,
    });
  }
  state.children = {};
  if (state.parent && outcomeForParent) {
    m.effects.push({
      type: 'notify-parent',
      parent: state.parent,
      child: { workflowId: state.workflowId, runId: state.runId, workflowType: state.workflowType },
      outcome: outcomeForParent,
    });
  }
  m.tasks.push({ op: 'delete-run', runId: state.runId });
  m.closed = true;
}
