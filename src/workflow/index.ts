/**
 * `keel/workflow`: what workflow code imports. Workflows are async functions; these functions make
 * their steps durable.
 *
 * @example
 * import { proxyActivities, sleep } from 'keel/workflow';
 * import type * as activities from './activities.ts';
 *
 * const { sendReminder } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });
 *
 * export async function reminder(email: string): Promise<void> {
 *   await sleep('1 day');
 *   await sendReminder(email);
 * }
 */
export { proxyActivities, type ActivityFunction, type ActivityInterfaceFor } from './activities.ts';
export { sleep, workflowInfo, uuid4, log } from './api.ts';
export { isCancellation } from './is-cancellation.ts';
export { CancellationScope, type CancellationScopeOptions } from '../runtime/cancellation-scope.ts';
export type { ActivityOptions, ActivityCancellationType } from '../runtime/activity-options.ts';
export type { WorkflowInfo } from '../runtime/workflow-info.ts';
export type { RetryPolicy } from '../common/retry-policy.ts';
export type { Duration } from '../common/duration.ts';
export {
  KeelFailure,
  ApplicationFailure,
  ActivityFailure,
  TimeoutFailure,
  CancelledFailure,
  TerminatedFailure,
  ServerFailure,
  RetryState,
  TimeoutType,
  type ApplicationFailureOptions,
} from '../common/failure.ts';
export { DeterminismViolationError, IllegalStateError } from '../common/errors.ts';
export { PayloadError } from '../common/payload.ts';
