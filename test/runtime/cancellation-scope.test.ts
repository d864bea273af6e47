/** CancellationScope on its own: how cancellation flows down, and that finished scopes let go of their parent. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancellationScope } from '../../src/runtime/cancellation-scope.ts';

test('a loop of short scopes leaves no listeners on the root scope', async () => {
  const root = CancellationScope.root();
  for (let i = 0; i < 1000; i++) {
    await new CancellationScope({ parent: root }).run(async () => undefined);
    await new CancellationScope({ parent: root })
      .run(() => Promise.reject(new Error('x')))
      .catch(() => undefined);
  }
  assert.equal(root.listenerCount, 0);
});

test('a running scope is cancelled with its parent; a finished one is let go', async () => {
  const root = CancellationScope.root();
  const finished = new CancellationScope({ parent: root });
  await finished.run(async () => undefined);
  let release!: () => void;
  const running = new CancellationScope({ parent: root });
  const done = running.run(() => new Promise<void>((resolve) => (release = resolve)));
  assert.equal(root.listenerCount, 1);
  root.cancel();
  assert.equal(running.consideredCancelled, true);
  assert.equal(finished.consideredCancelled, false);
  release();
  await done;
});

test('a scope run again follows its parent again, and learns of a cancellation it missed', async () => {
  const root = CancellationScope.root();
  const scope = new CancellationScope({ parent: root });
  await scope.run(async () => undefined);
  root.cancel();
  await scope.run(async () => {
    assert.equal(scope.consideredCancelled, true);
  });
});

test('a scope stays registered while any of its runs is unfinished', async () => {
  const root = CancellationScope.root();
  const scope = new CancellationScope({ parent: root });
  let release!: () => void;
  const long = scope.run(() => new Promise<void>((resolve) => (release = resolve)));
  await scope.run(async () => undefined);
  assert.equal(root.listenerCount, 1);
  release();
  await long;
  await Promise.resolve();
  assert.equal(root.listenerCount, 0);
});

test('a non-cancellable scope never listens to its parent', async () => {
  const root = CancellationScope.root();
  const shielded = new CancellationScope({ parent: root, cancellable: false });
  await shielded.run(async () => {
    assert.equal(root.listenerCount, 0);
    root.cancel();
    assert.equal(shielded.consideredCancelled, false);
  });
});
