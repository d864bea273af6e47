/**
 * Cancellation scopes, as in Temporal: every timer and activity belongs to the scope it was started
 * in. Cancelling a scope cancels its operations and its cancellable child scopes; a non-cancellable
 * scope shields everything inside it (cleanup and compensation run there to completion).
 *
 * The root scope of each run is cancelled when the workflow is asked to cancel (`handle.cancel()`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { CancelledFailure } from '../common/failure.ts';
import { toMs, type Duration } from '../common/duration.ts';
import { currentActivator } from './context.ts';

const scopeStorage = new AsyncLocalStorage<CancellationScope>();

export interface CancellationScopeOptions {
  /** When false, cancellation of the parent does not reach this scope. @defaultValue true */
  cancellable?: boolean;
  /** @defaultValue the current scope */
  parent?: CancellationScope;
}

export class CancellationScope {
  readonly cancellable: boolean;
  readonly parent?: CancellationScope;
  #cancelRequested = false;
  #reason?: CancelledFailure;
  readonly #listeners = new Set<(reason: CancelledFailure) => void>();
  #promise?: Promise<never>;
  /** Unregisters this scope from its parent's listeners; set while it follows the parent. */
  #unfollowParent?: () => void;
  /** Calls of `run()` not settled yet. */
  #running = 0;

  constructor(options: CancellationScopeOptions & { root?: boolean } = {}) {
    this.cancellable = options.cancellable ?? true;
    if (!options.root) {
      this.parent = options.parent ?? CancellationScope.current();
      this.#followParent();
    }
  }

  /** Cancellation flows down to cancellable children only. */
  #followParent(): void {
    const { parent } = this;
    if (!parent || !this.cancellable || this.#unfollowParent || this.#cancelRequested) return;
    if (parent.consideredCancelled) this.#cancelRequested = true;
    else this.#unfollowParent = parent.onCancel((reason) => this.cancel(reason));
  }

  /** True once cancellation was requested of this scope (or of a parent that reaches it). */
  get consideredCancelled(): boolean {
    return this.#cancelRequested && this.cancellable;
  }

  /** Rejects with `CancelledFailure` when the scope is cancelled. Await it to react to cancellation. */
  get cancelRequested(): Promise<never> {
    this.#promise ??= new Promise<never>((_, reject) => {
      if (this.consideredCancelled)
        reject(this.#reason ?? new CancelledFailure('Cancellation scope cancelled'));
      else this.onCancel(reject);
    });
    // Unobserved rejections of this promise are expected: many scopes are never awaited on.
    this.#promise.catch(() => undefined);
    return this.#promise;
  }

  /** Requests cancellation of this scope and of the operations and cancellable scopes in it. */
  cancel(reason = new CancelledFailure('Cancellation scope cancelled')): void {
    if (this.#cancelRequested) return;
    this.#cancelRequested = true;
    this.#reason = reason;
    if (!this.cancellable) return;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const listener of listeners) listener(reason);
  }

  /** Registers `listener` for this scope's cancellation; returns a function that unregisters it. @internal */
  onCancel(listener: (reason: CancelledFailure) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** How many scopes and operations listen for this scope's cancellation. @internal for tests */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Runs `fn` with this scope as the current one. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.#followParent();
    this.#running++;
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(scopeStorage.run(this, fn));
    } catch (error) {
      promise = Promise.reject(error);
    }
    // A settled scope stops listening to its parent: a loop of short scopes (every
    // `condition(fn, timeout)` is one) must not pile listeners on the root scope for the whole run.
    const settled = (): void => {
      if (--this.#running > 0) return;
      this.#unfollowParent?.();
      this.#unfollowParent = undefined;
    };
    promise.then(settled, settled);
    return promise;
  }

  /** The scope the calling workflow code runs in. */
  static current(): CancellationScope {
    return scopeStorage.getStore() ?? currentActivator('CancellationScope.current()').rootScope;
  }

  /** Runs `fn` in a new cancellable scope; `CancellationScope.current().cancel()` inside cancels it. */
  static cancellable<T>(fn: () => Promise<T>): Promise<T> {
    return new CancellationScope({ cancellable: true }).run(fn);
  }

  /** Runs `fn` shielded from cancellation: compensation and cleanup belong here. */
  static nonCancellable<T>(fn: () => Promise<T>): Promise<T> {
    return new CancellationScope({ cancellable: false }).run(fn);
  }

  /** Runs `fn` in a cancellable scope that is cancelled after `timeout` (a durable timer). */
  static withTimeout<T>(timeout: Duration, fn: () => Promise<T>): Promise<T> {
    const ms = toMs(timeout, 'CancellationScope.withTimeout timeout');
    const scope = new CancellationScope({ cancellable: true });
    const activator = currentActivator('CancellationScope.withTimeout()');
    // The timer lives in the parent scope so that the scope's own cancellation does not cancel it first.
    const timer = activator.startTimer(ms);
    timer.promise.then(
      () => scope.cancel(new CancelledFailure('Cancellation scope timed out')),
      () => undefined,
    );
    return scope.run(fn).finally(() => timer.cancel());
  }

  /** @internal the root scope of a run */
  static root(): CancellationScope {
    return new CancellationScope({ root: true });
  }
}

/** Runs `fn` inside `scope` (the root scope for the workflow's entry point). @internal */
export function runInScope<T>(scope: CancellationScope, fn: () => T): T {
  return scopeStorage.run(scope, fn);
}
