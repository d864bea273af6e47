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

  wait(ms: number): Promise<void> {
    if (this.pending) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.waiter === done) this.waiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiter = done;
    });
  }
}
