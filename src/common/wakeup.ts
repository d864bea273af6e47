/**
 * A level-triggered wake-up for polling loops: a `notify()` between `reset()` and `wait()` is never
 * lost, and `wait()` also returns after `ms` (polling is the fallback when hints are missed).
 * Plain timers rather than AbortSignals: this sits on every poll and every result wait.
 */
export class Wakeup {
  private pending = false;
  private waiter?: () => void;
  private deferred?: ReturnType<typeof setTimeout>;

  reset(): void {
    this.pending = false;
    this.cancelDeferred();
  }

  notify(): void {
    this.cancelDeferred();
    this.pending = true;
    this.waiter?.();
  }

  /**
   * Notifies in `ms` unless a `notify()` or `reset()` comes first: a burst of calls arms one timer,
   * so a loop told of work that others will probably take looks at most once per `ms`.
   */
  notifyWithin(ms: number): void {
    if (this.pending || this.deferred !== undefined) return;
    this.deferred = setTimeout(() => {
      this.deferred = undefined;
      this.notify();
    }, ms);
  }

  /** Resolves to true when notified, false when `ms` passed first. */
  wait(ms: number): Promise<boolean> {
    if (this.pending) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (notified: boolean): void => {
        clearTimeout(timer);
        if (this.waiter === wake) this.waiter = undefined;
        resolve(notified);
      };
      const wake = (): void => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.waiter = wake;
    });
  }

  private cancelDeferred(): void {
    if (this.deferred === undefined) return;
    clearTimeout(this.deferred);
    this.deferred = undefined;
  }
}
