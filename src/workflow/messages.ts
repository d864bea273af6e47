import { toMs, type Duration } from '../common/duration.ts';
import { CancellationScope } from '../runtime/cancellation-scope.ts';
import { currentActivator } from '../runtime/context.ts';
import type {
  QueryDefinition,
  SignalDefinition,
  UpdateDefinition,
} from '../runtime/definitions.ts';
import type { UpdateHandlerOptions } from '../runtime/message-handlers.ts';
import { sleep } from './api.ts';

export { defineSignal, defineQuery, defineUpdate } from '../runtime/definitions.ts';
export type {
  SignalDefinition,
  QueryDefinition,
  UpdateDefinition,
} from '../runtime/definitions.ts';
export type { UpdateHandlerOptions } from '../runtime/message-handlers.ts';

/**
 * Sets (or, with `undefined`, removes) the handler of a signal, query or update. Signals that
 * arrived before their handler was set are delivered to it at once, in order.
 *
 * @example
 * let approved: boolean | undefined;
 * setHandler(approve, () => void (approved = true));
 * setHandler(status, () => (approved === undefined ? 'waiting' : approved ? 'approved' : 'rejected'));
 * setHandler(setAmount, (cents) => (amount = cents), { validator: (cents) => { if (cents < 0) throw new Error('negative') } });
 */
export function setHandler<Args extends any[]>(
  definition: SignalDefinition<Args>,
  handler: ((...args: Args) => void | Promise<void>) | undefined,
): void;
export function setHandler<Result, Args extends any[]>(
  definition: QueryDefinition<Result, Args>,
  handler: ((...args: Args) => Result) | undefined,
): void;
export function setHandler<Result, Args extends any[]>(
  definition: UpdateDefinition<Result, Args>,
  handler: ((...args: Args) => Result | Promise<Result>) | undefined,
  options?: UpdateHandlerOptions<Args>,
): void;
export function setHandler(
  definition: SignalDefinition<any[]> | QueryDefinition<any, any[]> | UpdateDefinition<any, any[]>,
  handler: ((...args: any[]) => unknown) | undefined,
  options?: UpdateHandlerOptions<any[]>,
): void {
  currentActivator('setHandler()').messages.set(definition, handler, options);
}

/**
 * Handles signals of any name that have no handler of their own (dynamic signals).
 *
 * @example
 * setDefaultSignalHandler((name, ...args) => log.info('signal', { name, args }));
 */
export function setDefaultSignalHandler(
  handler: ((signalName: string, ...args: unknown[]) => void | Promise<void>) | undefined,
): void {
  currentActivator('setDefaultSignalHandler()').messages.setDefault('signal', handler);
}

/** Answers queries of any name that have no handler of their own. */
export function setDefaultQueryHandler(
  handler: ((queryName: string, ...args: unknown[]) => unknown) | undefined,
): void {
  currentActivator('setDefaultQueryHandler()').messages.setDefault('query', handler);
}

/** Handles updates of any name that have no handler of their own. */
export function setDefaultUpdateHandler(
  handler: ((updateName: string, ...args: unknown[]) => unknown) | undefined,
): void {
  currentActivator('setDefaultUpdateHandler()').messages.setDefault('update', handler);
}

/**
 * Waits until `fn` returns true (it is checked whenever the workflow's state may have changed). With
 * a `timeout`, resolves to false if it did not become true in time (a durable timer).
 *
 * @example
 * const decided = await condition(() => approved !== undefined, '3 days');
 */
export function condition(fn: () => boolean, timeout: Duration): Promise<boolean>;
export function condition(fn: () => boolean): Promise<void>;
export async function condition(fn: () => boolean, timeout?: Duration): Promise<boolean | void> {
  const activator = currentActivator('condition()');
  if (timeout === undefined) return activator.condition(fn);
  const ms = toMs(timeout, 'condition() timeout');
  return CancellationScope.cancellable(async () => {
    try {
      return await Promise.race([
        activator.condition(fn).then(() => true),
        sleep(ms).then(() => false),
      ]);
    } finally {
      // Cancels whichever of the two lost the race.
      CancellationScope.current().cancel();
    }
  });
}

/**
 * Resolves when no signal or update handler is running: await it before returning from a workflow
 * whose handlers do async work, so that they finish.
 *
 * @example
 * await condition(allHandlersFinished);
 */
export function allHandlersFinished(): boolean {
  return currentActivator('allHandlersFinished()').messages.running === 0;
}
