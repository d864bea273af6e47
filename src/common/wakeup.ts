import { setTimeout as realDelay } from 'node:timers/promises';

/**
 * A level-triggered wake-up for polling loops: a `notify()` between `reset()` and `wait()` is never
 * lost, and `wait()` also returns after `ms` (polling is the fallback when hints are missed).
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

  async wait(ms: number): Promise<void> {
    if (this.pending) return;
    const controller = new AbortController();
    const woken = new Promise<void>((resolve) => (this.waiter = resolve));
    try {
      await Promise.race([
        woken,
        realDelay(ms, undefined, { signal: controller.signal }).catch(() => undefined),
      ]);
    } finally {
      controller.abort();
      this.waiter = undefined;
    }
  }
}
