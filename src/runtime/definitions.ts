/**
 * Definitions of the messages a workflow accepts. `Args` and `Result` carry the types from the
 * workflow module to client code that imports the definition.
 */
export interface SignalDefinition<Args extends any[] = [], Name extends string = string> {
  type: 'signal';
  name: Name;
  /** @internal type carrier */
  __args?: Args;
}

export interface QueryDefinition<Result, Args extends any[] = [], Name extends string = string> {
  type: 'query';
  name: Name;
  /** @internal type carriers */
  __args?: Args;
  __result?: Result;
}

export interface UpdateDefinition<Result, Args extends any[] = [], Name extends string = string> {
  type: 'update';
  name: Name;
  /** @internal type carriers */
  __args?: Args;
  __result?: Result;
}

/**
 * Defines a signal: a one-way message that the workflow handles with `setHandler` and that clients
 * (or other workflows) send with `handle.signal(...)`.
 *
 * @example
 * export const approve = defineSignal<[approver: string]>('approve');
 */
export function defineSignal<Args extends any[] = [], Name extends string = string>(
  name: Name,
): SignalDefinition<Args, Name> {
  assertName('signal', name);
  return { type: 'signal', name };
}

/**
 * Defines a query: a read of the workflow's state that writes nothing to its history.
 *
 * @example
 * export const status = defineQuery<string>('status');
 */
export function defineQuery<Result, Args extends any[] = [], Name extends string = string>(
  name: Name,
): QueryDefinition<Result, Args, Name> {
  assertName('query', name);
  return { type: 'query', name };
}

/**
 * Defines an update: a request that the workflow validates, records and answers.
 *
 * @example
 * export const setAmount = defineUpdate<number, [cents: number]>('setAmount');
 */
export function defineUpdate<Result, Args extends any[] = [], Name extends string = string>(
  name: Name,
): UpdateDefinition<Result, Args, Name> {
  assertName('update', name);
  return { type: 'update', name };
}

function assertName(kind: string, name: unknown): void {
  if (typeof name !== 'string' || name.length === 0)
    throw new TypeError(`A ${kind} needs a non-empty string name.`);
}
