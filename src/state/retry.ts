import type { FailureInfo } from '../common/failure-converter.ts';
import { RetryState } from '../common/failure.ts';
import type { CompiledRetryPolicy } from '../common/retry-policy.ts';

export type RetryDecision =
  { retry: true; delay: number } | { retry: false; retryState: RetryState };

/**
 * Decides whether a failed attempt is retried, and after how long, by Temporal's rules: a
 * non-retryable failure or one whose type is listed stops at once; otherwise the attempt count and
 * the schedule-to-close deadline bound the retries; the delay grows by `backoffCoefficient` up to
 * `maximumInterval`, unless the failure asks for its own `nextRetryDelay`.
 *
 * @param attempt the attempt that just failed (1 for the first)
 * @param deadline absolute time by which the activity must close (schedule-to-close), if any
 */
export function decideRetry(
  policy: CompiledRetryPolicy,
  attempt: number,
  failure: FailureInfo | undefined,
  now: number,
  deadline: number | undefined,
): RetryDecision {
  const app = failure?.applicationFailureInfo;
  if (app && (app.nonRetryable || policy.nonRetryableErrorTypes.includes(app.type))) {
    return { retry: false, retryState: RetryState.NON_RETRYABLE_FAILURE };
  }
  if (failure?.serverFailureInfo?.nonRetryable)
    return { retry: false, retryState: RetryState.NON_RETRYABLE_FAILURE };
  if (policy.maximumAttempts > 0 && attempt >= policy.maximumAttempts) {
    return { retry: false, retryState: RetryState.MAXIMUM_ATTEMPTS_REACHED };
  }
  const delay =
    app?.nextRetryDelay ??
    Math.min(
      policy.initialInterval * policy.backoffCoefficient ** (attempt - 1),
      policy.maximumInterval,
    );
  if (deadline !== undefined && now + delay >= deadline)
    return { retry: false, retryState: RetryState.TIMEOUT };
  return { retry: true, delay: Math.round(delay) };
}

/** Backoff of a failed workflow task's next attempt: quick at first, capped at 10 s so that a fixed deploy is picked up soon. */
export function workflowTaskRetryDelay(nextAttempt: number): number {
  return Math.min(100 * 2 ** (nextAttempt - 2), 10_000);
}
