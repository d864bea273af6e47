/**
 * Makes the usual nondeterminism hazards safe inside workflow code, which runs in the main realm:
 * `Date`/`Date.now()` give workflow time, `Math.random()` and `crypto.randomUUID()` are seeded per
 * run, `setTimeout` becomes a durable timer; `setInterval`, `setImmediate` and `fetch` throw an error
 * that says what to use instead. Outside workflow code every global behaves exactly as before (one
 * AsyncLocalStorage lookup per call).
 */
import { IllegalStateError } from '../common/errors.ts';
import { maybeActivator } from './context.ts';
import { uuid4From } from './random.ts';
import type { Activator } from './activator.ts';

const installed = Symbol.for('keel.workflowGuardsInstalled');

export function installWorkflowGuards(): void {
  const g = globalThis as typeof globalThis & { [installed]?: boolean };
  if (g[installed]) return;
  g[installed] = true;
  guardDate();
  guardRandom();
  guardTimers();
  forbid(
    'setInterval',
    'setInterval() is not supported in workflow code: use a loop with sleep().',
  );
  forbid(
    'setImmediate',
    'setImmediate() is not allowed in workflow code: use `await Promise.resolve()` or sleep().',
  );
  forbid('fetch', 'fetch() is I/O and cannot run in workflow code: call it from an activity.');
}

function guardDate(): void {
  const RealDate = globalThis.Date;
  const now = (): number => maybeActivator()?.now ?? RealDate.now();
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      const activator = args.length === 0 ? maybeActivator() : undefined;
      return Reflect.construct(target, activator ? [activator.now] : args, newTarget);
    },
    apply(target, thisArg, args) {
      const activator = maybeActivator();
      return activator
        ? new target(activator.now).toString()
        : Reflect.apply(target, thisArg, args);
    },
    get(target, property, receiver) {
      return property === 'now' ? now : Reflect.get(target, property, receiver);
    },
  });
}

function guardRandom(): void {
  const realRandom = Math.random;
  Math.random = () => {
    const activator = maybeActivator();
    return activator ? activator.random() : realRandom();
  };
  const webCrypto = globalThis.crypto as unknown as {
    randomUUID(): string;
    getRandomValues(array: ArrayBufferView): ArrayBufferView;
  };
  const realRandomUUID = webCrypto.randomUUID.bind(webCrypto);
  webCrypto.randomUUID = () => {
    const activator = maybeActivator();
    return activator ? uuid4From(activator.random) : realRandomUUID();
  };
  const realGetRandomValues = webCrypto.getRandomValues.bind(webCrypto);
  webCrypto.getRandomValues = (array) => {
    const activator = maybeActivator();
    if (!activator) return realGetRandomValues(array);
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(activator.random() * 256);
    return array;
  };
}

const durableTimers = new WeakMap<Activator, Map<number, () => void>>();
let nextTimerHandle = 1;

function guardTimers(): void {
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  const guardedSetTimeout = function (handler: unknown, ms?: number, ...args: unknown[]) {
    const activator = maybeActivator();
    if (!activator) return (realSetTimeout as (...a: unknown[]) => unknown)(handler, ms, ...args);
    if (typeof handler !== 'function')
      throw new IllegalStateError('setTimeout() in workflow code needs a function.');
    const timer = activator.startTimer(Math.max(1, Number(ms) || 0));
    const handle = nextTimerHandle++;
    const timers = durableTimers.get(activator) ?? new Map<number, () => void>();
    durableTimers.set(activator, timers);
    timers.set(handle, timer.cancel);
    timer.promise.then(
      () => {
        timers.delete(handle);
        (handler as (...a: unknown[]) => void)(...args);
      },
      () => timers.delete(handle),
    );
    return handle;
  };
  Object.defineProperties(guardedSetTimeout, Object.getOwnPropertyDescriptors(realSetTimeout));
  globalThis.setTimeout = guardedSetTimeout as unknown as typeof setTimeout;
  globalThis.clearTimeout = (handle: unknown) => {
    const activator = maybeActivator();
    if (activator && typeof handle === 'number') {
      durableTimers.get(activator)?.get(handle)?.();
      return;
    }
    realClearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  };
}

function forbid(name: 'setInterval' | 'setImmediate' | 'fetch', message: string): void {
  const g = globalThis as unknown as Record<string, unknown>;
  const real = g[name] as ((...args: unknown[]) => unknown) | undefined;
  if (typeof real !== 'function') return;
  const guarded = function (this: unknown, ...args: unknown[]) {
    if (maybeActivator()) throw new IllegalStateError(message);
    return real.apply(this, args);
  };
  Object.defineProperties(guarded, Object.getOwnPropertyDescriptors(real));
  g[name] = guarded;
}
