/**
 * Which workflow run the running code belongs to. Workflow code runs in the main realm (see
 * docs/design.md for why), so the workflow API and the guarded globals find their run through
 * AsyncLocalStorage, which follows every `await` of the workflow's code.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { IllegalStateError } from '../common/errors.ts';
import type { Activator } from './activator.ts';

export const activatorStorage = new AsyncLocalStorage<Activator>();

/** The current run's activator, or undefined outside workflow code. */
export function maybeActivator(): Activator | undefined {
  return activatorStorage.getStore();
}

/** The current run's activator; outside workflow code, an error naming the API that was misused. */
export function currentActivator(api: string): Activator {
  const activator = activatorStorage.getStore();
  if (!activator) {
    throw new IllegalStateError(
      `${api} can only be called from workflow code (a function a Worker runs as a workflow). In an activity or other code, do the work directly.`,
    );
  }
  return activator;
}
