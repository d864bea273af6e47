/**
 * A level-triggered wake-up for polling loops: a `notify()` between `reset()` and `wait()` is never
 * lost, and `wait()` also returns after `ms` (polling is the fallback when hints are missed).
 * Plain timers rather than AbortSignals: this sits on every poll and every result wait.
 */
export class Wakeup {
  private pending = false;
  private waiter?: () => void;

  reset(): void {
    this.pending = false;
  }

  notify(): void {
    this.pending = true;
    this.waiter?.();
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
}
