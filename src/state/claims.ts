import { TaskLostError } from '../common/errors.ts';
import { TaskState, type TaskClaim, type TaskRecord } from './tasks.ts';

/** Throws {@link TaskLostError} unless `task` is still held under `claim`: the fencing check of every completion. */
export function assertClaim<T extends TaskRecord>(task: T | undefined, claim: TaskClaim): T {
  if (!task) {
    throw new TaskLostError(
      `Task ${claim.key} no longer exists (it was completed, cancelled, or its workflow closed); the result was discarded.`,
      'gone',
    );
  }
  if (task.state !== TaskState.Claimed || task.claimToken !== claim.claimToken) {
    throw new TaskLostError(
      `Task ${claim.key} is no longer held by this worker (it timed out and was retried or claimed again); the result was discarded.`,
      'expired',
    );
  }
  return task;
}

/**
 * The task, moved to `claimed` by `identity` until `expiresAt`, fenced by `claimToken`. Tokens are
 * random (chosen by the caller) rather than counters because a task's row is deleted and recreated
 * over a run's life, and a counter would restart and let a stale holder match a new claim.
 */
export function claimed<T extends TaskRecord>(
  task: T,
  identity: string,
  expiresAt: number,
  claimToken: number,
): T {
  return { ...task, state: TaskState.Claimed, claimToken, claimedBy: identity, expiresAt };
}
