/**
 * Child workflow options as workflow code passes them, and their checked form.
 */
import { optionalMs, type Duration } from '../common/duration.ts';
import { assertWellFormedText } from '../common/payload.ts';
import {
  compileRetryPolicy,
  type CompiledRetryPolicy,
  type RetryPolicy,
} from '../common/retry-policy.ts';
import type { ParentClosePolicy } from '../state/events.ts';
import type { SearchAttributeValues } from '../state/search-attributes.ts';
import type { ActivityCancellationType } from './activity-options.ts';

export interface ChildWorkflowOptions {
  /** @defaultValue a deterministic random id (uuid4) */
  workflowId?: string;
  /** @defaultValue the parent's task queue */
  taskQueue?: string;
  /** What happens to the child when the parent closes. @defaultValue 'TERMINATE' */
  parentClosePolicy?: ParentClosePolicy;
  /** What the parent does when it cancels the child. @defaultValue 'WAIT_CANCELLATION_COMPLETED' */
  cancellationType?: ActivityCancellationType;
  workflowExecutionTimeout?: Duration;
  workflowRunTimeout?: Duration;
  workflowTaskTimeout?: Duration;
  /** Retries of the child's failed runs. */
  retry?: RetryPolicy;
  memo?: Record<string, unknown>;
  searchAttributes?: SearchAttributeValues;
}

export interface CompiledChildOptions {
  workflowId: string;
  workflowType: string;
  taskQueue?: string;
  parentClosePolicy: ParentClosePolicy;
  cancellationType: ActivityCancellationType;
  workflowExecutionTimeout?: number;
  workflowRunTimeout?: number;
  workflowTaskTimeout?: number;
  retry?: CompiledRetryPolicy;
  memo?: Record<string, unknown>;
  searchAttributes?: SearchAttributeValues;
}

const POLICIES = ['TERMINATE', 'REQUEST_CANCEL', 'ABANDON'];

export function compileChildOptions(
  workflowType: string,
  workflowId: string,
  options: ChildWorkflowOptions,
): CompiledChildOptions {
  assertWellFormedText(workflowId, `The workflowId of child workflow '${workflowType}'`);
  if (options.taskQueue)
    assertWellFormedText(options.taskQueue, `The taskQueue of child workflow '${workflowType}'`);
  const parentClosePolicy = options.parentClosePolicy ?? 'TERMINATE';
  if (!POLICIES.includes(parentClosePolicy)) {
    throw new TypeError(
      `Invalid parentClosePolicy '${String(parentClosePolicy)}'. Use one of ${POLICIES.join(', ')}.`,
    );
  }
  const executionTimeout = optionalMs(options.workflowExecutionTimeout, 'workflowExecutionTimeout');
  const runTimeout = optionalMs(options.workflowRunTimeout, 'workflowRunTimeout');
  const taskTimeout = optionalMs(options.workflowTaskTimeout, 'workflowTaskTimeout');
  return {
    workflowId,
    workflowType,
    ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
    parentClosePolicy,
    cancellationType: options.cancellationType ?? 'WAIT_CANCELLATION_COMPLETED',
    ...(executionTimeout ? { workflowExecutionTimeout: executionTimeout } : {}),
    ...(runTimeout ? { workflowRunTimeout: runTimeout } : {}),
    ...(taskTimeout ? { workflowTaskTimeout: taskTimeout } : {}),
    ...(options.retry ? { retry: compileRetryPolicy(options.retry) } : {}),
    ...(options.memo ? { memo: options.memo } : {}),
    ...(options.searchAttributes ? { searchAttributes: options.searchAttributes } : {}),
  };
}
