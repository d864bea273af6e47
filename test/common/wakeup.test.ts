/** The polling loops' wake-up: a notification now, or one deferred and coalesced (`notifyWithin`). */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { Wakeup } from '../../src/common/wakeup.ts';

/** What `wait` resolved to so far: undefined while it waits. */
function watch(wakeup: Wakeup, ms: number): { result?: boolean } {
  const seen: { result?: boolean } = {};
  void wakeup.wait(ms).then((notified) => (seen.result = notified));
  return seen;
}

/** Lets the promise callbacks of resolved waits run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Wakeup', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  test('a notification before the wait is not lost; reset() forgets it', async () => {
    const wakeup = new Wakeup();
    wakeup.notify();
    assert.equal(await wakeup.wait(1000), true);
    wakeup.reset();
    const seen = watch(wakeup, 1000);
    mock.timers.tick(1000);
    await settle();
    assert.equal(seen.result, false);
  });

  test('notifyWithin(ms) wakes the waiter ms later, and a burst of calls arms one timer', async () => {
    const wakeup = new Wakeup();
    const seen = watch(wakeup, 1000);
    wakeup.notifyWithin(100);
    mock.timers.tick(60);
    wakeup.notifyWithin(100); // not pushed back to 160
    await settle();
    assert.equal(seen.result, undefined);
    mock.timers.tick(40);
    await settle();
    assert.equal(seen.result, true);
  });

  test('a notify() or reset() before the deferred time cancels the deferred notification', async () => {
    const wakeup = new Wakeup();
    wakeup.notifyWithin(100);
    wakeup.notify();
    assert.equal(await wakeup.wait(1000), true);
    wakeup.reset();
    // The loop claimed (reset) after the deferral: nothing is left to wake it for.
    wakeup.notifyWithin(100);
    wakeup.reset();
    const seen = watch(wakeup, 1000);
    mock.timers.tick(999);
    await settle();
    assert.equal(seen.result, undefined);
    mock.timers.tick(1);
    await settle();
    assert.equal(seen.result, false);
  });
});
