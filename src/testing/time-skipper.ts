/**
 * Skips time when nothing can happen without it: no task is ready or held by a worker, and some
 * task waits for a time (a timer, a retry backoff, a timeout). Idleness is read from the store, where
 * every step is committed, so there is no race with work in flight: a task being worked on is in the
 * `claimed` state until its outcome commits.
 */
import { setTimeout as realDelay } from 'node:timers/promises';
import type { Engine } from '../engine/engine.ts';
import type { Store } from '../store/store.ts';
import { Wakeup } from '../common/wakeup.ts';
import type { VirtualClock } from './virtual-clock.ts';

/** How long `sleep()` waits for workers to finish reacting to one fired timer before it goes on. */
const SETTLE_TIMEOUT_MS = 2000;

export class TimeSkipper {
  private autoSkipRequests = 0;
  private loop?: Promise<void>;
  private readonly wakeup = new Wakeup();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly clock: VirtualClock,
  ) {
    this.unsubscribe = store.subscribe(() => this.wakeup.notify());
  }

  /** Skips time automatically until the returned function is called (while someone awaits a result). */
  requestAutoSkip(): () => void {
    this.autoSkipRequests++;
    this.loop ??= this.autoSkip().finally(() => (this.loop = undefined));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.autoSkipRequests--;
      this.wakeup.notify();
    };
  }

  private async autoSkip(): Promise<void> {
    while (this.autoSkipRequests > 0 && !this.closed) {
      this.wakeup.reset();
      await this.skipIfIdle();
      await this.wakeup.wait(10);
    }
  }

  /** If idle, jumps to the next waiting task's time and fires what is due. Returns whether it skipped. */
  private async skipIfIdle(limit = Infinity): Promise<boolean> {
    const work = await this.store.pendingWork();
    if (work.active > 0 || work.nextWaitingExpiry === undefined || work.nextWaitingExpiry > limit)
      return false;
    this.clock.advanceTo(work.nextWaitingExpiry);
    await this.engine.fireExpiredTasks();
    return true;
  }

  /** Advances time by `ms`, firing due timers one after another and letting workers react to each. */
  async sleep(ms: number): Promise<void> {
    // Let the work already under way (a start, a workflow task) finish first: it is part of "now".
    await this.settle();
    const target = this.clock.now() + ms;
    for (;;) {
      await this.settle();
      if (!(await this.skipIfIdle(target))) {
        const work = await this.store.pendingWork();
        // Not idle (a long activity runs): time still moves, timers due before the target fire.
        if (work.nextWaitingExpiry === undefined || work.nextWaitingExpiry > target) break;
        this.clock.advanceTo(work.nextWaitingExpiry);
        await this.engine.fireExpiredTasks();
      }
    }
    this.clock.advanceTo(target);
    await this.engine.fireExpiredTasks();
  }

  /** Waits until no task is ready or held, or `SETTLE_TIMEOUT_MS` of real time. */
  private async settle(): Promise<void> {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if ((await this.store.pendingWork()).active === 0) return;
      await realDelay(2);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    this.wakeup.notify();
    await this.loop;
  }
}
