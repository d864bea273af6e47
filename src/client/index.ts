/**
 * `keel/client`: starts workflows and follows them.
 *
 * @example
 * import { Client } from 'keel/client';
 * const client = new Client({ connection: './keel.db' });
 * const result = await client.workflow.execute(orderWorkflow, { taskQueue: 'orders', workflowId: 'order-42', args: [order] });
 */
export { Client, WorkflowClient, type ClientOptions } from './client.ts';
export { WorkflowHandle } from './workflow-handle.ts';
export type {
  Workflow,
  WorkflowResultType,
  WorkflowStartOptions,
  WorkflowExecutionDescription,
  PendingActivityDescription,
  WorkflowHistory,
} from './types.ts';
export { ListQueryError } from '../visibility/list-query.ts';
export {
  WorkflowUpdateHandle,
  type UpdateOptions,
  type WorkflowUpdateStage,
} from './workflow-handle.ts';
export type { ListOptions, SignalWithStartOptions } from './client.ts';
export type { WorkflowIdReusePolicy, WorkflowIdConflictPolicy } from '../engine/engine.ts';
export {
  SearchAttributeType,
  type SearchAttributeValue,
  type SearchAttributeValues,
} from '../state/search-attributes.ts';
export type {
  QueryDefinition,
  SignalDefinition,
  UpdateDefinition,
} from '../runtime/definitions.ts';
export {
  QueryNotRegisteredError,
  WorkflowQueryFailedError,
  WorkflowUpdateFailedError,
  WorkflowFailedError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  StoreError,
} from '../common/errors.ts';
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
} from '../common/failure.ts';
export type { ExecutionStatus } from '../state/execution-state.ts';
export type { ExecutionSummary } from '../store/store.ts';
export type { HistoryEvent, EventType } from '../state/events.ts';
