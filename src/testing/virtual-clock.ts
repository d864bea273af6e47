import { systemClock, type Clock } from '../engine/clock.ts';

/** Real time plus a skipped-ahead offset: time flows normally and jumps forward when told to. */
export class VirtualClock implements Clock {
  private offset = 0;

  now(): number {
    return systemClock.now() + this.offset;
  }

  /** Moves time forward to `time` (never backwards). */
  advanceTo(time: number): void {
    const now = this.now();
    if (time > now) this.offset += time - now;
  }
}
