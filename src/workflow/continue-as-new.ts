import { optionalMs, type Duration } from '../common/duration.ts';
import { assertPayload } from '../common/payload.ts';
import { currentActivator } from '../runtime/context.ts';
import { ContinueAsNew } from '../runtime/continue-as-new.ts';
import type { SearchAttributeValues } from '../state/search-attributes.ts';
import type { Workflow } from './children.ts';

export interface ContinueAsNewOptions {
  /** @defaultValue the current workflow type */
  workflowType?: string;
  /** @defaultValue the current task queue */
  taskQueue?: string;
  workflowRunTimeout?: Duration;
  workflowTaskTimeout?: Duration;
  memo?: Record<string, unknown>;
  searchAttributes?: SearchAttributeValues;
}

/**
 * Closes this run and starts a new run of the same workflow id with `args` and a fresh history. Use it
 * to keep long-lived workflows small (see `workflowInfo().continueAsNewSuggested`). Never returns.
 *
 * @example
 * if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof cart>(state);
 */
export function continueAsNew<F extends Workflow>(...args: Parameters<F>): Promise<never> {
  return makeContinueAsNewFunc<F>()(...args);
}

/** A `continueAsNew` with options: another workflow type, task queue or timeouts for the next run. */
export function makeContinueAsNewFunc<F extends Workflow>(
  options: ContinueAsNewOptions = {},
): (...args: Parameters<F>) => Promise<never> {
  return (...args) => {
    currentActivator('continueAsNew()');
    assertPayload(args, 'the arguments of continueAsNew()');
    const runTimeout = optionalMs(options.workflowRunTimeout, 'workflowRunTimeout');
    const taskTimeout = optionalMs(options.workflowTaskTimeout, 'workflowTaskTimeout');
    return Promise.reject(
      new ContinueAsNew({
        input: args,
        ...(options.workflowType ? { workflowType: options.workflowType } : {}),
        ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
        ...(runTimeout ? { workflowRunTimeout: runTimeout } : {}),
        ...(taskTimeout ? { workflowTaskTimeout: taskTimeout } : {}),
        ...(options.memo ? { memo: options.memo } : {}),
        ...(options.searchAttributes ? { searchAttributes: options.searchAttributes } : {}),
      }),
    );
  };
}
