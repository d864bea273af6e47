/**
 * The hints of a store that a waiter cares about, kept from the moment the log is made until it is
 * closed. A waiter whose log began before the change it waits for could happen (the close of a run
 * this client is starting, say) needs no first read: every such change will be in its log.
 */
import { Wakeup } from '../common/wakeup.ts';
import type { Store, StoreHint } from '../store/store.ts';

export class HintLog {
  private heard: StoreHint[] = [];
  private readonly wakeup = new Wakeup();
  private readonly unsubscribe: () => void;

  /** `keep` selects the hints to log; 'external-change' (anything may have happened) is always kept. */
  constructor(
    store: Store,
    private keep: (hint: StoreHint) => boolean,
  ) {
    this.unsubscribe = store.subscribe((hint) => {
      if (hint.type !== 'external-change' && !this.keep(hint)) return;
      this.heard.push(hint);
      this.wakeup.notify();
    });
  }

  /** From now on keeps only what `keep` selects, and drops what it does not of what is held. */
  only(keep: (hint: StoreHint) => boolean): void {
    this.keep = keep;
    this.heard = this.heard.filter((hint) => hint.type === 'external-change' || keep(hint));
    if (this.heard.length === 0) this.wakeup.reset();
  }

  /** The hints logged since the last call. */
  take(): StoreHint[] {
    this.wakeup.reset();
    const heard = this.heard;
    this.heard = [];
    return heard;
  }

  /** Resolves to true once there is something to take, false if `ms` passed first. */
  wait(ms: number): Promise<boolean> {
    return this.wakeup.wait(ms);
  }

  close(): void {
    this.unsubscribe();
  }
}
