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
export {
  defineSignal,
  defineQuery,
  defineUpdate,
  setHandler,
  setDefaultSignalHandler,
  setDefaultQueryHandler,
  setDefaultUpdateHandler,
  condition,
  allHandlersFinished,
  type SignalDefinition,
  type QueryDefinition,
  type UpdateDefinition,
  type UpdateHandlerOptions,
} from './messages.ts';
export {
  startChild,
  executeChild,
  getExternalWorkflowHandle,
  type ChildWorkflowHandle,
  type ChildWorkflowStartOptions,
  type ExternalWorkflowHandle,
  type Workflow,
} from './children.ts';
export type { ChildWorkflowOptions } from '../runtime/child-options.ts';
export type { ParentClosePolicy } from '../state/events.ts';
export {
  continueAsNew,
  makeContinueAsNewFunc,
  type ContinueAsNewOptions,
} from './continue-as-new.ts';
export { patched, deprecatePatch } from './versioning.ts';
export { upsertSearchAttributes, upsertMemo } from './visibility.ts';
export {
  SearchAttributeType,
  type SearchAttributeValue,
  type SearchAttributeValues,
} from '../state/search-attributes.ts';
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
  ChildWorkflowFailure,
  ServerFailure,
  RetryState,
  TimeoutType,
  type ApplicationFailureOptions,
} from '../common/failure.ts';
export {
  DeterminismViolationError,
  IllegalStateError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '../common/errors.ts';
export { PayloadError } from '../common/payload.ts';
