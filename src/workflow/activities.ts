import { assertPayload } from '../common/payload.ts';
import { compileActivityOptions, type ActivityOptions } from '../runtime/activity-options.ts';
import { currentActivator } from '../runtime/context.ts';

/** Any activity implementation. */
export type ActivityFunction = (...args: any[]) => unknown;

/** The workflow-side view of activities `A`: every function returns a promise of its awaited result. */
export type ActivityInterfaceFor<A> = {
  [K in keyof A]: A[K] extends (...args: infer P) => infer R
    ? (...args: P) => Promise<Awaited<R>>
    : never;
};

/**
 * Returns stubs that schedule activities by name. Call it at module level or in the workflow; the
 * options are checked at once (a missing timeout or a bad duration throws here), each call is
 * checked where it is made (arguments that cannot be stored throw there).
 *
 * @example
 * import type * as activities from './activities.ts';
 * const { chargeCard } = proxyActivities<typeof activities>({
 *   startToCloseTimeout: '30s',
 *   retry: { maximumAttempts: 5 },
 * });
 * const receipt = await chargeCard(order.card, order.total);
 */
export function proxyActivities<A = Record<string, ActivityFunction>>(
  options: ActivityOptions,
): ActivityInterfaceFor<A> {
  const compiled = compileActivityOptions(options);
  return new Proxy({} as ActivityInterfaceFor<A>, {
    get(_target, name) {
      // Not thenable: `await proxyActivities(...)` must not look like a call of an activity named 'then'.
      if (typeof name !== 'string' || name === 'then') return undefined;
      return (...args: unknown[]): Promise<unknown> => {
        const activator = currentActivator(`Calling activity '${name}'`);
        try {
          assertPayload(args, `the arguments of activity '${name}'`);
        } catch (error) {
          return Promise.reject(error);
        }
        return activator.scheduleActivity(name, args, compiled);
      };
    },
  });
}
