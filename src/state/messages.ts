/**
 * Signals and updates: messages from outside that a running workflow reacts to.
 *
 * A signal is an event (WorkflowExecutionSignaled) like any other. An update is first *admitted*
 * (kept in the run's state, not the history) and handed to a worker with the next workflow task; its
 * validator runs there. A rejected update leaves no trace in the history (if nothing else happened,
 * not even its workflow task: a speculative task); an accepted one is recorded
 * (WorkflowExecutionUpdateAccepted) and then completed (WorkflowExecutionUpdateCompleted) with its
 * outcome. Update ids deduplicate: the same id on the same run is the same update.
 */
import { isRunning, type UpdateState } from './execution-state.ts';
import type { Mutation } from './mutation.ts';

export function signalWorkflow(
  m: Mutation,
  signalName: string,
  input: unknown[],
  identity?: string,
): void {
  if (!isRunning(m.state)) return;
  m.deliver({
    eventType: 'WorkflowExecutionSignaled',
    attributes: { signalName, input, ...(identity ? { identity } : {}) },
  });
}

export interface UpdateRequest {
  updateId: string;
  name: string;
  input: unknown[];
  identity?: string;
}

/**
 * Admits an update, or returns the existing one with the same id. A workflow task is scheduled to
 * deliver it: a speculative one if nothing else is pending.
 */
export function admitUpdate(m: Mutation, request: UpdateRequest): UpdateState {
  const { state } = m;
  state.updates ??= {};
  const existing = state.updates[request.updateId];
  // As in Temporal, a rejection leaves no trace: the same id sent again is validated again.
  if (existing && existing.stage !== 'rejected') return existing;
  pruneRejected(state.updates, m.now);
  const update: UpdateState = {
    name: request.name,
    input: request.input,
    ...(request.identity ? { identity: request.identity } : {}),
    stage: 'admitted',
    time: m.now,
  };
  state.updates[request.updateId] = update;
  if (isRunning(state)) m.scheduleWorkflowTask(1, 0, true);
  return update;
}

/** Admitted updates not handed to a worker yet, in admission order. */
export function undeliveredUpdates(m: Mutation): (UpdateRequest & { updateId: string })[] {
  const delivered = new Set(m.state.workflowTask?.deliveredUpdateIds ?? []);
  return Object.entries(m.state.updates ?? {})
    .filter(([id, u]) => u.stage === 'admitted' && !delivered.has(id))
    .map(([updateId, u]) => ({
      updateId,
      name: u.name,
      input: u.input ?? [],
      ...(u.identity ? { identity: u.identity } : {}),
    }));
}

/** True if some admitted update is still waiting for a workflow task. */
export function hasAdmittedUpdates(m: Mutation): boolean {
  return Object.values(m.state.updates ?? {}).some((u) => u.stage === 'admitted');
}

/** Rejected updates are kept an hour (for their callers to read why), then forgotten. */
const REJECTION_KEPT_MS = 60 * 60 * 1000;

function pruneRejected(updates: Record<string, UpdateState>, now: number): void {
  for (const [id, update] of Object.entries(updates)) {
    if (update.stage === 'rejected' && now - (update.time ?? 0) > REJECTION_KEPT_MS)
      delete updates[id];
  }
}

/**
 * How many completed updates keep their outcome in the run's state. The state is rewritten with every
 * change of the run, so it must not grow with each update; the outcome of an older one is in its
 * WorkflowExecutionUpdateCompleted event. (Ids stay, small, so that a repeated id is still the same update.)
 */
export const UPDATE_OUTCOMES_KEPT = 16;

/** Drops the outcomes of all but the most recent {@link UPDATE_OUTCOMES_KEPT} completed updates. */
export function forgetOldUpdateOutcomes(updates: Record<string, UpdateState>): void {
  const withOutcome = Object.values(updates).filter(
    (u) => u.stage === 'completed' && u.outcome && u.completedEventId !== undefined,
  );
  if (withOutcome.length <= UPDATE_OUTCOMES_KEPT) return;
  withOutcome.sort((a, b) => a.completedEventId! - b.completedEventId!);
  for (const update of withOutcome.slice(0, withOutcome.length - UPDATE_OUTCOMES_KEPT)) {
    delete update.outcome;
  }
}
