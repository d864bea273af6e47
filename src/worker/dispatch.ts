import type { ActivityTaskGrant, WorkflowTaskGrant } from '../engine/grants.ts';
import type { EagerActivities, EagerWorkflowTask } from '../engine/engine.ts';
import type { StickyQueue } from '../state/execution-state.ts';

/**
 * What executors need from their worker for eager dispatch: reserve a slot before asking the engine
 * for the next task in the same transaction, run what it grants, give back what it did not.
 */
export interface Dispatch {
  /** Reserves slots for up to `n` activities and says which the engine may hand over; undefined if none. */
  reserveActivities(n: number): EagerActivities | undefined;
  releaseActivities(n: number): void;
  /** Runs an activity in a slot reserved before. */
  runActivity(grant: ActivityTaskGrant): void;
  /** Reserves a slot for the workflow task an activity's outcome schedules (none if `onlyIfRunNow`). */
  reserveWorkflowTask(): EagerWorkflowTask | undefined;
  releaseWorkflowTask(): void;
  runWorkflowTask(grant: WorkflowTaskGrant): void;
  /** A run completed its first workflow task: queries that waited for it can now be answered. */
  firstTaskCompleted(): void;
  /** Where the run's next task should go first as this worker keeps it cached; undefined if nowhere. */
  stickyQueue(): StickyQueue | undefined;
}
