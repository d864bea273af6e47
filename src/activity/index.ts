/**
 * `keel/activity`: what activity code imports. Activities are plain async functions that do the side
 * effects; this module gives them their context (info, heartbeats, cancellation).
 *
 * @example
 * import { Context, ApplicationFailure } from 'keel/activity';
 *
 * export async function chargeCard(card: string, cents: number): Promise<string> {
 *   if (card.startsWith('0000')) throw ApplicationFailure.nonRetryable('card declined', 'CardDeclined');
 *   Context.current().heartbeat();
 *   return `receipt-${cents}`;
 * }
 */
export {
  Context,
  heartbeat,
  activityInfo,
  sleep,
  cancellationSignal,
  type ActivityInfo,
  type ActivityCancellationReason,
} from './context.ts';
export {
  KeelFailure,
  ApplicationFailure,
  ActivityFailure,
  TimeoutFailure,
  CancelledFailure,
  TerminatedFailure,
  RetryState,
  TimeoutType,
  type ApplicationFailureOptions,
} from '../common/failure.ts';
