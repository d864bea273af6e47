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
export {
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
  ServerFailure,
  RetryState,
  TimeoutType,
} from '../common/failure.ts';
export type { ExecutionStatus } from '../state/execution-state.ts';
export type { ExecutionSummary } from '../store/store.ts';
export type { HistoryEvent, EventType } from '../state/events.ts';
