/**
 * Typed activity mocks: implementations registered under the real activities' names, checked against
 * their signatures, so a test can swap one activity without touching the workflow.
 *
 * @example
 * const worker = await Worker.create({
 *   store: env.store, taskQueue: 'test', workflows,
 *   activities: { ...activities, ...mockActivities<typeof activities>({ chargeCard: async () => 'receipt-1' }) },
 * });
 */
export type ActivityMocks<A> = {
  [K in keyof A]?: A[K] extends (...args: infer P) => infer R
    ? (...args: P) => Awaited<R> | Promise<Awaited<R>>
    : never;
};

export function mockActivities<A>(mocks: ActivityMocks<A>): ActivityMocks<A> {
  for (const [name, mock] of Object.entries(mocks)) {
    if (typeof mock !== 'function')
      throw new TypeError(`mockActivities: '${name}' must be a function.`);
  }
  return mocks;
}
