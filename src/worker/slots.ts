/** A counted capacity (concurrent task executions) shared by pollers and eager dispatch. */
export class Slots {
  private used = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly max: number) {}

  get free(): number {
    return this.max - this.used;
  }

  /** Takes up to `n` free slots; returns how many it took. */
  acquire(n: number): number {
    const taken = Math.max(0, Math.min(n, this.free));
    this.used += taken;
    return taken;
  }

  release(n = 1): void {
    if (n <= 0) return;
    this.used -= n;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when a slot is released (or at once if one is free). */
  whenFree(): Promise<void> {
    if (this.free > 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
