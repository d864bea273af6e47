import { ActivityFailure, CancelledFailure, ChildWorkflowFailure } from '../common/failure.ts';

/**
 * True if `error` means "cancelled": a `CancelledFailure`, or an activity failure caused by one.
 *
 * @example
 * try { await chargeCard(order) } catch (err) { if (isCancellation(err)) await refund(order); throw err; }
 */
export function isCancellation(error: unknown): boolean {
  return (
    error instanceof CancelledFailure ||
    ((error instanceof ActivityFailure || error instanceof ChildWorkflowFailure) &&
      error.cause instanceof CancelledFailure)
  );
}
